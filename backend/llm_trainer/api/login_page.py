"""The token login page: plain HTML (zh-CN first, English below), so it works before the web UI may load."""

LOGIN_HTML = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>登录 · LLM Trainer</title>
<style>
body{font-family:system-ui,"Noto Sans CJK SC",sans-serif;background:#f5f7fa;display:flex;justify-content:center;
align-items:center;height:100vh;margin:0}
form{background:#fff;padding:32px;border-radius:8px;box-shadow:0 2px 12px rgba(0,0,0,.1);width:340px}
h1{font-size:20px;margin:0 0 8px}p{color:#606266;font-size:13px;margin:0 0 16px}
input{width:100%;box-sizing:border-box;padding:8px;font-size:14px;border:1px solid #dcdfe6;border-radius:4px}
button{margin-top:16px;width:100%;padding:9px;background:#409eff;color:#fff;border:0;border-radius:4px;font-size:14px}
#error{color:#f56c6c;font-size:13px;min-height:18px;margin-top:8px}
</style></head><body>
<form id="login">
<h1>LLM Trainer 大语言模型训练平台</h1>
<p>此服务器需要访问令牌（启动时打印，或 LLM_TRAINER_TOKEN）。<br>This server needs its access token
(printed at start, or LLM_TRAINER_TOKEN).</p>
<input id="token" type="password" autocomplete="current-password" placeholder="访问令牌 / Access token" required>
<button type="submit">登录 / Log in</button>
<div id="error" role="alert"></div>
</form>
<script>
document.getElementById("login").addEventListener("submit", async (e) => {
  e.preventDefault();
  const r = await fetch("/api/auth/login", {method: "POST", headers: {"content-type": "application/json"},
    body: JSON.stringify({token: document.getElementById("token").value})});
  if (r.ok) { location.href = "/"; return; }
  document.getElementById("error").textContent = r.status === 429
    ? "尝试次数过多，请一分钟后再试 / Too many attempts, wait a minute"
    : "令牌错误 / Wrong token";
});
</script></body></html>
"""
