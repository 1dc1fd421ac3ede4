"""The terminal reviewer driven by real keypresses (Textual's pilot) over a real DuckDB queue."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from catalyst.records import CheckResult, Decision, Interaction, Verdict
from catalyst.review import ReviewQueue
from catalyst.review.demo import fill
from catalyst.review.tui import ReviewApp, item_renderable
from catalyst.store import Store


@pytest.fixture
def queue(tmp_path):
    store = Store(tmp_path / "log.duckdb")
    fill(store, 4)
    yield ReviewQueue(store)
    store.close()


def _shown(app: ReviewApp) -> str:
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(item_renderable(app.item, app.claim))
    return console.export_text()


async def test_keys_approve_skip_correct_reject(queue):
    order = [r.id for r in queue.items()]
    app = ReviewApp(queue, "ana")
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        assert app.claim.item_id == order[0]
        text = _shown(app)
        assert "Question" in text and "grounding" in text and "is not supported by the context" in text
        assert "[0] contradicting" in text
        await pilot.press("a")  # approve the first
        assert app.claim.item_id == order[1]
        await pilot.press("s")  # skip the second: released, the third is served
        assert app.claim.item_id == order[2]
        await pilot.press("c")  # correct the third: edit box prefilled with the answer
        box = app.query_one("#correction")
        assert box.has_focus and box.value == app.item.output
        box.value = ""
        await pilot.press(*"Fixed answer.")  # typed letters go to the box, not to the a/r/c bindings
        await pilot.press("enter")
        assert app.claim.item_id == order[3]
        await pilot.press("r")
        assert app.claim is None  # only the skipped one is left, and it stays skipped this round
        await pilot.press("g")  # refresh: skipped items come back
        assert app.claim.item_id == order[1]
        await pilot.press("e")
        assert app.claim.item_id == order[1]  # escalated: open again, raised to the top
        await pilot.press("q")
    assert app.decided == [(order[0], "approve"), (order[2], "correct"), (order[3], "reject"),
                           (order[1], "escalate")]
    labels = {r["id"]: (r["label"], r["corrected_output"], r["reviewer"]) for r in queue.labels()}
    assert labels == {order[0]: (1, None, "ana"), order[2]: (0, "Fixed answer.", "ana"), order[3]: (0, None, "ana")}
    assert queue.counts()["held"] == 0  # quitting released the escalated-then-reclaimed item


async def test_bad_correction_is_shown_not_saved(queue):
    app = ReviewApp(queue, "bo")
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        first = app.claim.item_id
        await pilot.press("c")
        app.query_one("#correction").value = "sneaky \u202e reversed"
        await pilot.press("enter")
        assert app.claim.item_id == first  # still held: nothing was saved
        status = str(app.query_one("#status").render())
        assert "not saved" in status and "U+202E" in status
        await pilot.press("escape", "a")
        assert app.decided == [(first, "approve")]
    assert queue.labels()[0]["label"] == 1


async def test_hostile_answer_renders_as_plain_text(tmp_path):
    store = Store(tmp_path / "h.duckdb")
    out = "[bold red]fake[/] \u202eevil <script>x</script>"
    rec = Interaction(id="[link=x]id[/link]", input="q", output=out)
    store.add([(rec, Verdict(id=rec.id, confidence=0.5, decision=Decision.REVIEW, policy="p@1",
                             checks=[CheckResult(name="c", score=0.5, passed=False)]))])
    store.flush()
    q = ReviewQueue(store)
    app = ReviewApp(q, "cy")
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        text = _shown(app)
        assert "[bold red]fake[/]" in text and "\\u202eevil <script>x</script>" in text
        assert "[link=x]id[/link]" in text
        await pilot.press("q")
    store.close()


async def test_empty_queue(tmp_path):
    store = Store(tmp_path / "e.duckdb")
    app = ReviewApp(ReviewQueue(store), "dee")
    async with app.run_test() as pilot:
        await pilot.pause()
        assert app.claim is None
        await pilot.press("a")
        assert "no item held" in str(app.query_one("#status").render())
        await pilot.press("q")
    store.close()


def test_refuses_without_a_terminal_instead_of_hanging(tmp_path, queue):
    import os
    import subprocess
    import sys

    from catalyst.errors import ConfigError
    from catalyst.review.tui import require_terminal

    with pytest.raises(ConfigError, match="needs an interactive terminal"):
        require_terminal(io.StringIO(), io.StringIO())
    queue.store.close()
    p = subprocess.run([sys.executable, "-m", "catalyst", "review", "--db", queue.store.path],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
                       env={**os.environ, "NO_COLOR": "1"})
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: the terminal reviewer needs an interactive terminal")
    assert "--list" in lines[0] and "Traceback" not in p.stderr


async def test_the_held_item_is_released_when_the_app_ends_without_q(queue):
    """Ctrl-C / an error / SIGTERM end the app without the quit action: unmount still gives the item back."""
    app = ReviewApp(queue, "ana")
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        held = app.claim.item_id
        assert next(r for r in queue.items() if r.id == held).claimed_by == "ana"
        app.exit()  # not the quit action
        await pilot.pause()
    assert app.claim is None
    assert next(r for r in queue.items() if r.id == held).claimed_by is None
