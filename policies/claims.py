"""A transparent reader of free-text return claims (English and Portuguese).

It lives with the policy because the judge uses it too: a decision that rests
on a reading of free text is corroborated by this reader, whatever planner
made the reading.

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
# Portuguese as Olist's customers write it (lower case, no accents after `normalize`): part of an order missing,
# the wrong or different item, poor quality and faults, and asking to send it back. Added to the reasons above.
PORTUGUESE: dict[str, tuple[tuple[str, float], ...]] = {
    "not_received": (
        (r"\b(so|apenas|somente) (me )?(veio|vieram|chegou|chegaram|recebi|recebemos|foi entregue|foram entregues|"
         r"entregaram|enviaram|mandaram|despachou)\b", 2.0),
        (r"\b(veio|vieram|chegou|chegaram|recebi|entregue|entregues|entregaram|enviaram|mandaram|despachou) "
         r"(so|apenas|somente)\b", 2.0),
        (r"\b(nao|nunca) (me )?(veio|vieram|chegaram|foi entregue|foram entregues|entregaram|recebemos)\b", 2.0),
        (r"\b(entrega parcial|incomplet\w*|metade (do pedido|dos itens|dos produtos)|parte do pedido|outra parte|"
         r"os outros (itens|produtos)|o outro item|o segundo)\b", 1.5),
        (r"\b(falta|faltam|faltaram|faltava)\b", 1.0),
    ),
    "wrong_item": (
        (r"\b(mandaram|enviaram|entregaram|me mandaram|me enviaram) (outro|outra|o errado|a errada|errad\w*|"
         r"um modelo|uma cor|o modelo|a cor)", 2.0),
        (r"\b(errad[oa]s?|trocad[oa]s?)\b", 1.0),
        (r"\b(pedi|comprei|encomendei|paguei)\b.{0,80}\b(recebi|veio|vieram|mandaram|enviaram|chegou)\b.{0,20}"
         r"\b(outr[oa]|diferente|errad\w*)", 1.0),
    ),
    "not_as_described": (
        (r"\b(diferente|diferentes|difere)\b", 1.5),
        (r"\b(foto|fotos|imagem|imagens|anuncio|anunciad\w*|descricao|descrito|site)\b", 0.75),
        (r"\b(menor|maior|mais fin[oa]|mais gross[oa]|mais escur[oa]|mais clar[oa]) (do )?que\b", 1.5),
        (r"\b(nao (e|era) o (mesmo|que)|imitacao|replica|remanufaturad\w*|pirata|incompativel|nao e compativel)", 1.5),
    ),
    "damaged": (
        (r"\b(qualidade|acabamento|material|tecido)( e| do produto| muito| bem| meio)* (pessim\w*|ruim|inferior|"
         r"baixa|horrivel|fraca|fraco|duvidosa|inferior|deixa a desejar|nao (e )?(muito )?bo[am])", 2.0),
        (r"\b(pessim[oa] (produto|qualidade|material)|produto (muito )?(ruim|fraco|pessimo|horrivel)|mal acabad\w*|"
         r"mal feit\w*|vagabund\w*|porcaria|nao presta|deixa (muito )?a desejar|fragil|frageis)\b", 1.5),
        (r"\b(nao funcion\w*|nao liga|quebrou|quebrad\w*|vazand\w*|vaza|mal contato|descolad\w*|riscad\w*|"
         r"riscos|manchad\w*|sujo|suja|furad\w*|soltou|desbotad\w*|enferrujad\w*)\b", 1.2),
        (r"\b(ruim|nao gostei|esperava (mais|melhor|algo)|nao vale (o|a pena)|nao atendeu|decepcion\w*|"
         r"fraco|fraca|falsificad\w*|falsif\w*)\b", 1.0),
    ),
    "changed_mind": (
        (r"\b(quero|gostaria de|desejo|vou|preciso) (devolver|trocar|a troca|o reembolso|meu dinheiro|o dinheiro|"
         r"cancelar)", 2.0),
        (r"\b(devolv\w*|devolucao|troca|trocar|estorn\w*|reembols\w*|ressarci\w*|dinheiro de volta|"
         r"cancelamento|cancelei|cancelar)\b", 1.5),
    ),
}
for _reason, _extra in PORTUGUESE.items():
    PATTERNS[_reason] = (*PATTERNS[_reason], *_extra)
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
