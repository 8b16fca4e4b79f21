"""Custom task states in records, and workflow steps as they travel in message headers."""

from __future__ import annotations

import orjson
import pytest

from waasp.runtime import Runtime, chain, chord, group
from waasp.runtime.message import DecodeError, TaskMeta, decode_meta, encode_meta
from waasp.runtime.states import SUCCESS, TaskState, state_of
from waasp.runtime.workflow import ChordMembership, Step, steps_from_header

rt = Runtime("wire", broker_url="redis://127.0.0.1:1/0", environ={})


@rt.task(name="t.add")
def add(x: int, y: int) -> int:
    """Return x + y."""
    return x + y


def test_custom_state_round_trips() -> None:
    """A record in a custom state decodes to that string; a known one to its TaskState."""
    meta = decode_meta(encode_meta(TaskMeta(id="a", state="PROGRESS", result={"n": 1})))
    assert meta.state == "PROGRESS" and not isinstance(meta.state, TaskState)
    assert meta.result == {"n": 1}
    assert decode_meta(encode_meta(TaskMeta(id="b", state=SUCCESS))).state is SUCCESS
    assert state_of("FAILURE") is TaskState.FAILURE


@pytest.mark.parametrize("state", [None, 3, "", ["PROGRESS"]])
def test_malformed_state_is_a_decode_error(state: object) -> None:
    """A record whose state is not a non-empty string raises DecodeError."""
    with pytest.raises(DecodeError):
        decode_meta(orjson.dumps({"id": "x", "state": state}))


def test_chain_steps_round_trip_through_json() -> None:
    """A chain's first step carries the rest, ids fixed, through JSON unchanged."""
    step = chain(add.s(1, 2), add.s(3).set(queue="high"), add.s(4).set(countdown=2)).step()
    again = Step.from_header(orjson.loads(orjson.dumps(step.as_header())))
    assert again == step
    assert [s.queue for s in again.chain] == ["high", None]
    assert again.last_id == step.chain[-1].task_id and len(set(again.ids)) == 3


@pytest.mark.parametrize(
    "header",
    [
        None,
        [{"task": "t"}],
        [{"task": "t", "task_id": "i", "args": {}}],
        [{"task": "t", "task_id": "i", "args": [], "countdown": True}],
        [{"task": "t", "task_id": "i", "args": [], "queue": 5}],
    ],
)
def test_malformed_chain_header_is_a_decode_error(header: object) -> None:
    """A chain header that is not a list of well-formed steps raises DecodeError."""
    with pytest.raises(DecodeError):
        steps_from_header(header)


def test_chord_membership_checks_its_index() -> None:
    """A chord header round-trips; one whose index is outside the chord is refused."""
    member = ChordMembership("c", 1, 2, Step("t.add", "cb"))
    assert ChordMembership.from_header(orjson.loads(orjson.dumps(member.as_header()))) == member
    with pytest.raises(DecodeError):
        ChordMembership.from_header({**member.as_header(), "index": 2})


def test_workflows_take_only_signatures() -> None:
    """Anything but signatures is refused; a chain needs a task; a chord a callback."""
    with pytest.raises(TypeError):
        group([add.s(1, 1), add])  # type: ignore[list-item]  # the error under test
    with pytest.raises(ValueError):
        chain()
    assert len(group(add.s(i, i) for i in range(3))) == 3
    assert len(chord([add.s(1, 1)]).header) == 1


def test_group_steps_round_trip_and_list_their_members_ids() -> None:
    """A group inside a chain travels as a step with members; the ids that would fail with an
    earlier step are the members' and the callback's, not the group's own."""
    step = chain(add.s(1, 2), group([add.s(1), add.s(2)]), add.s(3)).step()
    assert Step.from_header(orjson.loads(orjson.dumps(step.as_header()))) == step
    grouped = step.chain[0]
    assert grouped.members is not None and grouped.task == ""
    members = [m.task_id for m in grouped.members]
    assert step.ids == [step.task_id, *members, step.chain[1].task_id]
    with pytest.raises(DecodeError):
        Step.from_header({**grouped.as_header(), "members": {}})
