"""The agents of the validation flow: plain node functions over a batch, assembled by ``catalyst.graph``.

screen → (escalate) → decide → retry ↺ | enqueue → review (interrupt) → log

See :mod:`catalyst_agents.nodes`.
"""
