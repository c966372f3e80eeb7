"""A transparent reader of free-text return claims (English and Portuguese).

Keyword and pattern evidence per reason; the confidence says how sure the
reading is, so an unclear claim is held for a supervisor, never guessed into
money. Imperatives aimed at the agent ("ignore your rules", "refund
everything") are not evidence of anything and are ignored.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

PATTERNS: dict[str, tuple[tuple[str, float], ...]] = {
    "damaged": (
        (r"\b(broken|broke|smashed|shattered|cracked|crushed|dented|damaged|torn|ripped|scratched|leak\w*)\b", 2.0),
        (r"\b(arrived|came) (broken|damaged|smashed|cracked)", 2.0),
        (r"\b(quebrad\w*|danificad\w*|amassad\w*|trincad\w*|rachad\w*|estragad\w*|rasgad\w*|avariad\w*)", 2.0),
        (r"\b(veio|chegou) (quebrad|danificad|amassad|aberto|violad)", 2.0),
        (r"\b(defeito|defeituos\w*|nao funciona|parou de funcionar|doesn'?t work|not working|stopped working)", 1.2),
    ),
    "wrong_item": (
        (r"\b(wrong (item|product|size|colou?r|model)|not what i ordered|different (item|product)|sent me the wrong)",
         2.5),
        (r"\b(produto errado|item errado|veio errado|enviaram errado|cor errada|tamanho errado|modelo errado)", 2.5),
        (r"\b(veio|recebi|chegou) (outro|outra|um produto diferente)", 2.0),
        (r"\b(diferente do que (comprei|pedi)|nao e o que (comprei|pedi))", 2.0),
    ),
    "not_as_described": (
        (r"\b(not as (described|advertised|pictured)|does not match|doesn'?t match|misleading|fake|counterfeit)", 2.5),
        (r"\b(poor|low|bad|terrible) quality\b", 1.5),
        (r"\b(diferente (do|da) (anuncio|anunciad\w*|foto|descricao|site)|nao corresponde|nao confere)", 2.5),
        (r"\b(falsificad\w*|nao e original|nao original|propaganda enganosa)", 2.5),
        (r"\b(pessima qualidade|baixa qualidade|qualidade ruim|ma qualidade|material ruim|fragil)", 1.5),
    ),
    "changed_mind": (
        (r"\b(changed my mind|no longer (need|want)|don'?t (need|want) (it|this) anymore|ordered by mistake)", 2.5),
        (r"\b(nao quero mais|desisti|me arrependi|arrependid\w*|comprei por engano|nao preciso mais)", 2.5),
    ),
    "not_received": (
        (r"\b(never (arrived|came|received|got)|not (received|delivered|arrived)|didn'?t (receive|arrive|get))", 2.5),
        (r"\b(haven'?t (received|got)|still waiting|where is my (order|package|parcel)|lost in transit)", 2.0),
        (r"\b(nao recebi|nao chegou|ainda nao (recebi|chegou)|nunca chegou|nao foi entregue|aguardando)", 2.5),
        (r"\b(recebi (apenas|so) (um|uma|parte)|veio incompleto|faltando|faltou|falta(m)? (um|uma|\d))", 1.5),
    ),
}
_COMPILED = {reason: tuple((re.compile(p), w) for p, w in pats) for reason, pats in PATTERNS.items()}


@dataclass(frozen=True)
class Reading:
    reason: str
    confidence: float
    evidence: tuple[str, ...]
    scores: dict[str, float]


def normalize(text: str) -> str:
    """Lower case without accents, so 'não' and 'nao' read alike."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def read_claim(claim: str) -> Reading:
    """The best reading of a claim and how sure it is (0.0-0.95)."""
    text = normalize(claim)
    scores: dict[str, float] = {}
    evidence: dict[str, list[str]] = {}
    for reason, patterns in _COMPILED.items():
        for pattern, weight in patterns:
            for m in pattern.finditer(text):
                scores[reason] = scores.get(reason, 0.0) + weight
                evidence.setdefault(reason, []).append(m.group(0))
    if not scores:
        return Reading("not_as_described", 0.30, (), {})
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
    best, top = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
    margin = (top - runner_up) / top
    strength = min(top / 2.0, 1.0)
    confidence = round(min(0.95, 0.45 + 0.5 * margin * strength), 2)
    return Reading(best, confidence, tuple(evidence[best]), dict(sorted(scores.items())))
