"""How the coordinator reads a failed task (lib_garment/scale/coordinator.py): a worker that lost the broker
(Redis restarting as the task began or ended) is not the job's fault, so the job is queued again, a bounded
number of times; any other failure is the job's."""

from __future__ import annotations

from types import SimpleNamespace

from lib_garment.catalogue.runner import Events
from lib_garment.scale.broker import parse_broker
from lib_garment.scale.coordinator import BROKER_LOSSES, QueueOptions, _Queue


class Notes(Events):
    def __init__(self) -> None:
        self.notes: list[str] = []

    def note(self, text: str) -> None:
        self.notes.append(text)


def test_a_job_whose_worker_lost_the_broker_is_queued_again_a_few_times_and_other_failures_are_its_own() -> None:
    events = Notes()
    options = QueueOptions(parse_broker("redis://127.0.0.1:1/0"), job_timeout=2.0, visibility=3.0)
    jobs = [SimpleNamespace(id="j1", label="SKU-1 #1"), SimpleNamespace(id="j2", label="SKU-2 #1")]
    queue = _Queue(jobs, None, options, events, None)  # nothing here touches the broker or the state
    lost = {"exc_type": "ConnectionError", "exc_module": "redis.exceptions", "exc_message": ["Error 111"]}
    assert [queue._lost_to_the_broker("j1", lost) for _ in range(BROKER_LOSSES + 1)] == [True] * BROKER_LOSSES + [False]
    assert events.notes == ["SKU-1 #1: its worker lost the broker (ConnectionError): queued again"] * BROKER_LOSSES
    kombu = {"exc_type": "OperationalError", "exc_module": "kombu.exceptions", "exc_message": []}
    assert queue._lost_to_the_broker("j2", kombu)
    for own in ({"exc_type": "ValueError", "exc_module": "builtins"}, "a text", None):
        assert not queue._lost_to_the_broker("j2", own)
