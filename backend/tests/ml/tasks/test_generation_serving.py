"""Serving a generation model: streamed pieces add up to the whole answer (multi-byte characters split across
byte-level tokens never come out half), concurrent streams on one served model answer as a single stream does, the
decode steps' thread count is calibrated at warm-up without changing answers, and the served model keeps bf16 weights
only where the CPU computes in bf16."""

from __future__ import annotations

import threading

from llm_trainer.ml.tasks.generation.predictor import ChatGenerator, ChatRequest, _PieceStreamer, serving_dtype


def test_streamed_pieces_add_up_to_the_text_and_never_split_a_character(tiny_chat_lm) -> None:
    import torch

    tokenizer, _ = tiny_chat_lm
    text = "西瓜是绿色的。Watermelon 🍉 is green, 葡萄是紫色的！" * 3
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert len(ids) > len(text) / 2  # byte-level pieces: many characters span several tokens
    streamer = _PieceStreamer(tokenizer, [])
    streamer.put(torch.tensor([[1, 2, 3]]))  # the prompt, skipped
    for i in ids:
        streamer.put(torch.tensor([i]))
    streamer.end()
    pieces = []
    while (piece := streamer.pieces.get()) is not None:
        pieces.append(piece)
    assert "".join(pieces) == text
    assert len(pieces) > 10 and not any("\ufffd" in p for p in pieces)


def test_four_concurrent_streams_answer_like_one_stream(tiny_chat_lm) -> None:
    tokenizer, model = tiny_chat_lm
    generator = ChatGenerator(tokenizer, model, 256, serving=True)
    requests = [ChatRequest([{"role": "user", "content": f"{fruit}是什么颜色？"}], max_new_tokens=24, temperature=0)
                for fruit in ("苹果", "香蕉", "葡萄", "西瓜")]  # fmt: skip
    alone = [generator.predict([r])[0].text for r in requests]
    together: dict[int, str] = {}
    errors: list[BaseException] = []

    def consume(i: int) -> None:
        try:
            together[i] = "".join(generator.stream(requests[i]))
        except BaseException as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)

    threads = [threading.Thread(target=consume, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors and [together[i] for i in range(4)] == alone


def test_warm_up_picks_the_decode_thread_count_and_answers_do_not_depend_on_it(tiny_chat_lm) -> None:
    from llm_trainer.ml.inference.runtime import cpu_threads

    tokenizer, model = tiny_chat_lm
    generator = ChatGenerator(tokenizer, model, 256, serving=True)
    generator.warm_up()
    assert generator.decode_threads in (1, cpu_threads())
    request = ChatRequest([{"role": "user", "content": "苹果是什么颜色？"}], max_new_tokens=24, temperature=0)
    answers = set()
    for threads in (1, cpu_threads()):
        generator.decode_threads = threads
        answers.add(generator.predict([request])[0].text)
    assert len(answers) == 1


def test_bf16_weights_are_served_in_bf16_only_where_the_cpu_has_bf16(monkeypatch) -> None:
    import torch

    from llm_trainer.ml.training import trainer

    monkeypatch.setattr(trainer, "cpu_supports_bf16", lambda: False)
    assert serving_dtype(torch.bfloat16) == torch.float32 and serving_dtype(torch.float32) == torch.float32
    monkeypatch.setattr(trainer, "cpu_supports_bf16", lambda: True)
    assert serving_dtype(torch.bfloat16) == torch.bfloat16 and serving_dtype(torch.float32) == torch.float32


def test_a_short_prompt_is_not_cut_when_max_tokens_exceeds_the_context(tiny_chat_lm) -> None:
    tokenizer, model = tiny_chat_lm  # context 256 tokens
    generator = ChatGenerator(tokenizer, model, 256)
    short = ChatRequest([{"role": "user", "content": "苹果是什么颜色？"}], max_new_tokens=512, temperature=0)
    answer = generator.predict([short])[0]
    assert not answer.truncated and answer.prompt_tokens + answer.completion_tokens <= 256
    long = ChatRequest([{"role": "user", "content": "苹果是什么颜色？" * 80}], max_new_tokens=16, temperature=0)
    cut = generator.predict([long])[0]
    assert cut.truncated and cut.prompt_tokens == 256 - 16


def test_batched_greedy_answers_equal_one_by_one_answers(tiny_chat_lm) -> None:
    tokenizer, model = tiny_chat_lm
    generator = ChatGenerator(tokenizer, model, 256)
    questions = ["苹果是什么颜色？", "香蕉是什么颜色？（编号3）", "葡萄", "西瓜是什么颜色？请回答。"]
    requests = [ChatRequest([{"role": "user", "content": q}], max_new_tokens=16, temperature=0) for q in questions]
    one_by_one = [a.text for a in generator.predict(requests)]
    assert generator.greedy_texts(requests, batch_size=3) == one_by_one
