"""How the coordinator reads the broker (lib_garment/scale/coordinator.py): a worker that lost the broker (Redis
restarting as the task began or ended) is not the job's fault, so the job is queued again, a bounded number of
times, and any other failure is the job's; a job whose message is nowhere (neither queued nor held by a worker,
with no result: lost in a Redis restart) is found, after a second look, and queued again."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from lib_garment.catalogue.runner import Events
from lib_garment.scale.app import QUEUE, UNACKED_KEY
from lib_garment.scale.broker import parse_broker
from lib_garment.scale.coordinator import BROKER_LOSSES, LOST_CONFIRM_S, QueueOptions, _Queue
from tests.scale_support import redis_server


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


def test_a_job_whose_message_is_nowhere_is_found_on_a_second_look_and_only_then(tmp_path: Path) -> None:
    with redis_server(tmp_path / "redis") as server:
        options = QueueOptions(parse_broker(server.url), job_timeout=2.0, visibility=3.0)
        jobs = [SimpleNamespace(id=name, label=name) for name in ("j1", "j2")]
        queue = _Queue(jobs, None, options, Notes(), None)
        client = options.broker.client()
        queue.outstanding = {job.id: job for job in jobs}
        client.lpush(QUEUE, "a message still queued")
        assert queue._find_lost(0.0) == []
        assert queue._find_lost(10.0) == []
        client.delete(QUEUE)
        client.hset(UNACKED_KEY, "tag", "a message a worker holds")
        assert queue._find_lost(20.0) == []
        assert queue._find_lost(30.0) == []
        client.delete(UNACKED_KEY)
        assert queue._find_lost(40.0) == []  # suspected: a worker may be taking it this very moment
        assert queue._find_lost(40.0 + LOST_CONFIRM_S / 2) == []
        del queue.outstanding["j2"]  # its result came in between
        assert [job.id for job in queue._find_lost(40.0 + LOST_CONFIRM_S)] == ["j1"]
        # a message that shows up again clears the suspicion
        assert queue._find_lost(50.0) == []
        client.lpush(QUEUE, "back")
        assert queue._find_lost(50.0 + LOST_CONFIRM_S) == []
        client.delete(QUEUE)
        assert queue._find_lost(60.0 + LOST_CONFIRM_S) == []
