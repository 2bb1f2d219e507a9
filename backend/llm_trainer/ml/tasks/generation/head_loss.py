"""Cross-entropy through a frozen vocabulary-wide LM head with its gradient computed in the forward pass.

For the summed loss, the gradient with respect to the logits is softmax(logits) - onehot(target), so each chunk of
labelled positions needs one matmul forward, one softmax and one matmul back to the hidden size; the stock path
(linear, upcast, log-softmax, NLL and their four backward kernels) reads and writes the [positions, vocabulary]
tensor about eight times. Liger's fused linear cross-entropy is Triton (GPU) only and cut-cross-entropy's CPU path is
torch.compile, which needs a C compiler at run time; this is the same algorithm in eager PyTorch for a frozen head
(LoRA), where only the hidden states need a gradient.
"""

from __future__ import annotations

import torch


class FrozenHeadCrossEntropy(torch.autograd.Function):
    """Summed cross-entropy of `hidden @ weight.T` against `targets`; gradient for `hidden` only. The softmax runs in
    the weight's dtype (fp32 inside), so under bf16 the loss value is rounded to bf16 probabilities (a few
    thousandths per token) while the gradient matches the stock path's, which casts it to bf16 for the matmul too."""

    @staticmethod
    def forward(ctx, hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, chunk: int) -> torch.Tensor:  # noqa: ANN001
        compute = hidden.to(weight.dtype)
        total = torch.zeros((), dtype=torch.float32, device=hidden.device)
        needs_grad, grads = ctx.needs_input_grad[0], []
        for start in range(0, compute.shape[0], chunk):
            wanted = targets[start : start + chunk]
            rows = torch.arange(wanted.shape[0], device=wanted.device)
            logits = torch.nn.functional.linear(compute[start : start + chunk], weight)
            # fp16 (GPU autocast) would flush small probabilities to zero; bf16 keeps fp32's range
            probs = torch.softmax(logits, dim=-1, dtype=torch.float32 if logits.dtype == torch.float16 else None)
            total -= probs[rows, wanted].float().clamp_min(torch.finfo(torch.float32).tiny).log().sum()
            if needs_grad:
                probs[rows, wanted] -= 1
                grads.append(probs.to(weight.dtype) @ weight)
        ctx.hidden_dtype = hidden.dtype
        if needs_grad:
            ctx.save_for_backward(torch.cat(grads) if grads else compute.new_zeros(compute.shape))
        return total

    @staticmethod
    def backward(ctx, grad_total: torch.Tensor) -> tuple[torch.Tensor, None, None, None]:  # noqa: ANN001
        (grad_hidden,) = ctx.saved_tensors
        return grad_hidden.to(ctx.hidden_dtype) * grad_total, None, None, None


def frozen_head_cross_entropy(
    hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, chunk: int
) -> torch.Tensor:
    """Summed loss over `chunk` positions at a time (bounds the [positions, vocabulary] probabilities in memory);
    under autocast the head runs in the autocast dtype (the weight cast once, not once per chunk)."""
    device = hidden.device.type
    if torch.is_autocast_enabled(device):
        weight = weight.to(torch.get_autocast_dtype(device))
    with torch.autocast(device, enabled=False):
        return FrozenHeadCrossEntropy.apply(hidden, weight, targets, chunk)
