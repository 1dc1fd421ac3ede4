"""Realistic review items for the web reviewer's tests, benchmark and screenshots (no randomness).

``sample_pair(id, ...)`` builds an answer with doubted spans, ``n_passages`` context passages (one
supporting, the rest background), and a set of check results the way the built-in checks report them.
"""

from __future__ import annotations

from catalyst.records import CheckResult, Decision, Evidence, Interaction, Verdict

QUESTION = "When was the Eiffel Tower completed, and how tall is it today?"
ANSWER = ("The Eiffel Tower was completed in 1899 for the World's Fair in Paris. It is 330 metres tall "
          "today, after a new antenna was added in 2022, and it was designed by Gustave Eiffel's company.")
SUPPORT = ("The Eiffel Tower was completed on 31 March 1889 as the entrance arch to the 1889 World's Fair. "
           "It was designed and built by the company of Gustave Eiffel. With its antennas it is 330 metres tall "
           "since a new DAB radio antenna was added in March 2022.")
BACKGROUND = [
    "Paris is the capital and most populous city of France, with an estimated population of 2.1 million.",
    "The Champ de Mars is a large public green space in Paris, located between the Eiffel Tower and the École "
    "Militaire.",
    "Wrought iron was the main structural material of many nineteenth-century bridges and towers.",
    "The Exposition Universelle of 1889 celebrated the centennial of the storming of the Bastille.",
    "Visitors can reach the top floor by lift; the stairs are open to the second floor only.",
]


def _span(text: str, needle: str) -> tuple[int, int]:
    i = text.index(needle)
    return i, i + len(needle)


def sample_pair(item_id: str, *, answer: str = ANSWER, question: str = QUESTION, n_passages: int = 5,
                confidence: float | None = 0.31, policy: str = "rag-strict@3f9c2a1") -> tuple[Interaction, Verdict]:
    """One interaction sent to review, with evidence on the answer and on the supporting passage."""
    context = [SUPPORT] + [BACKGROUND[i % len(BACKGROUND)] + ("" if i < len(BACKGROUND) else f" (note {i})")
                           for i in range(max(0, n_passages - 1))]
    context = context[:n_passages]
    out_ev: list[Evidence] = []
    if answer == ANSWER:
        s, e = _span(answer, "completed in 1899")
        out_ev.append(Evidence(start=s, end=e, reason="the date 1899 is not in the context (it says 1889)"))
        s, e = _span(answer, "after a new antenna was added in 2022")
        out_ev.append(Evidence(start=s, end=e, reason="weakly supported: nearest passage [1], similarity 0.58"))
    else:
        out_ev.append(Evidence(start=0, end=min(len(answer), 40), reason="no supporting passage for this claim"))
    ctx_ev = []
    if n_passages:
        s, e = _span(SUPPORT, "completed on 31 March 1889")
        ctx_ev.append(Evidence(start=s, end=e, field="context", passage=0, reason="supports: completion date"))
        s, e = _span(SUPPORT, "330 metres tall")
        ctx_ev.append(Evidence(start=s, end=e, field="context", passage=0, reason="supports: height"))
    checks = [
        CheckResult(name="grounding", score=0.34, passed=False, evidence=out_ev, ms=3.8,
                    details={"reason": "2 of 3 claims not supported by the context"}),
        CheckResult(name="numbers", score=0.5, passed=False, evidence=out_ev[:1], ms=0.2,
                    details={"reason": "1 of 4 numbers missing from the context"}),
        CheckResult(name="citations", score=0.92, passed=True, evidence=ctx_ev, ms=1.1),
        CheckResult(name="pii", score=1.0, passed=True, ms=6.0),
        CheckResult(name="toxicity", score=0.99, passed=True, ms=0.9),
    ]
    rec = Interaction(id=item_id, input=question, output=answer, context=context,
                      metadata={"model": "m-1", "segment": {"region": "EU"}})
    v = Verdict(id=item_id, confidence=confidence, evidence="none" if confidence is None else "scored",
                decision=Decision.REVIEW, policy=policy, checks=checks,
                reasons=["grounding 0.34 < 0.60", "numbers: a date is not in the context"])
    return rec, v


HOSTILE = ('Sure! <script>alert("xss")</script> Also <img src=x onerror="alert(1)"> and '
           '<a href="javascript:alert(2)">click</a> \u202edesrever\u202c <iframe src="//evil"></iframe> "quotes" & '
           "ampersands, a NUL\x00, a bell\x07 and an ESC\x1b[31m sequence.")
