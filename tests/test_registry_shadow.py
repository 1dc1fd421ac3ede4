"""Registration cannot shadow: a built-in's or a plugin's name is refused unless overriding is explicit."""

from __future__ import annotations

import pytest

import catalyst
from catalyst import registry
from catalyst.errors import CheckNameTaken, PolicyError
from catalyst.policy import loads_policy


@pytest.fixture
def clean_registry():
    before = dict(registry._local)
    yield
    registry._local.clear()
    registry._local.update(before)


def test_a_function_named_like_a_builtin_is_refused_and_the_default_policy_still_blocks_blank(clean_registry):
    with pytest.raises(CheckNameTaken) as e:
        @catalyst.check
        def non_empty(ctx):
            return True
    msg = str(e.value)
    assert "catalyst_checks" in msg and "built-in" in msg and "override=True" in msg and "my_non_empty" in msg
    assert catalyst.Validator("default").validate("   ").decision.value == "block"


def test_an_explicit_override_replaces_in_this_process_only(clean_registry):
    @catalyst.check(override=True)
    def non_empty(ctx):
        return True

    assert registry.get("non_empty") is non_empty
    assert "registered in this process" in registry.origin("non_empty")


def test_two_different_local_checks_cannot_share_a_name(clean_registry):
    @catalyst.check(name="shared_name_x")
    def first(ctx):
        return True

    with pytest.raises(CheckNameTaken, match="shared_name_x"):
        @catalyst.check(name="shared_name_x")
        def second(ctx):
            return False


def test_redefining_the_same_function_is_not_a_conflict(clean_registry):
    """A notebook cell run twice, or a module imported twice, registers the same qualified name again."""
    for expected in (True, False):
        @catalyst.check
        def rerun_me(ctx, answer: bool = expected):
            return answer
    assert registry.get("rerun_me")().model_dump()["answer"] is False


def test_keyword_settings_become_typed_config_fields(clean_registry):
    @catalyst.check
    def mentions_limit(ctx, max_mentions: int = 0, words: list[str] = ["refund"], threshold: float = 0.5):  # noqa: B006
        """At most `max_mentions` mentions of refund words."""
        return sum(ctx.output.lower().count(w) for w in words) <= max_mentions

    cls = registry.get("mentions_limit")
    assert set(cls.model_fields) == {"threshold", "max_mentions", "words"}
    v = catalyst.Validator(catalyst.Policy.of(cls(max_mentions=1), name="p"))
    assert v.validate("one refund").checks[0].passed
    assert not catalyst.Validator(catalyst.Policy.of(cls(), name="p")).validate("one refund").checks[0].passed
    text = "checks:\n  - mentions_limit: {max_mentions: lots}\n"
    with pytest.raises(PolicyError, match=r"max_mentions.*at p.yaml:2"):
        loads_policy(text, source="p.yaml")
    assert loads_policy("checks:\n  - mentions_limit: {words: [money]}\n").default.steps[0].check.words == ["money"]


def test_a_function_without_a_context_parameter_is_a_clear_error(clean_registry):
    from catalyst.errors import ConfigError

    with pytest.raises(ConfigError, match="must take the context first"):
        @catalyst.check
        def no_args():
            return True
