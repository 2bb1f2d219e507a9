"""Scores of generated answers against references: character-level ROUGE-L F1 (Google's `rouge-score`, with a
character tokenizer, since its default drops Chinese) and corpus BLEU-4 (`sacrebleu`, its `zh` tokenizer)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

SCORERS = "ROUGE-L: rouge-score 0.1.2 on characters; BLEU-4: sacrebleu 2.6.0, tokenize=zh"


class _Characters:
    """rouge-score's tokenizer interface: every non-space character is a token."""

    def tokenize(self, text: str) -> list[str]:
        return [c for c in text if not c.isspace()]


def answer_scores(answers: Sequence[str], references: Sequence[str]) -> dict[str, Any]:
    """Mean ROUGE-L F1 and BLEU-4, both 0..1, over paired answers and references."""
    import sacrebleu
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], tokenizer=_Characters())
    rouge = [scorer.score(ref, ans)["rougeL"].fmeasure for ans, ref in zip(answers, references, strict=True)]
    bleu = sacrebleu.corpus_bleu(list(answers), [list(references)], tokenize="zh").score / 100
    return {"rouge_l": round(sum(rouge) / len(rouge), 4) if rouge else 0.0, "bleu_4": round(bleu, 4)}
