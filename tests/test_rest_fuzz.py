"""Schema-driven fuzzing (schemathesis) of every Garment Studio route, /garment-studio/v1/*, served by the
host double's real FastAPI app: a bounded, seeded run with no server error and every answer in the documented
shape (tests/api_fuzz.py says which). tools/fuzz_api.py points the same run at a running WebUI."""

from __future__ import annotations

import os
import sys

import pytest

from tests.api_fuzz import PREFIX, fuzz, garment_openapi, report, sample_images
from tests.host_double.fixtures import flavours_of_this_set

CN_MODELS = ("control_v11p_sd15_canny",)
# Generated calls per operation; hypothesis stops earlier for an operation with fewer distinct calls (a GET
# without parameters has one): 4 POST routes x 105 + the catalogue's 130 + 3 GET ≈ 553 calls in each package set,
# about 1,100 in a CI run against the floor of 1,000.
# The floor is for one CI run, which fuzzes both sets (their schemas differ: pydantic 1 and 2): each set
# must reach half of it here, and the test command (tools/run_tests.sh) adds the two sets' counts, recorded in
# the JUnit report as the property "fuzz_calls", and fails the run below MIN_CALLS. GARMENT_FUZZ_EXAMPLES
# changes the per-operation count.
EXAMPLES = int(os.environ.get("GARMENT_FUZZ_EXAMPLES", "105"))
TIME_CAP_S = 240  # a safety net against a hang, never a timing assertion: the run reports where it stopped
MIN_CALLS = 1000  # the floor for one CI run (both package sets)
MIN_CALLS_PER_SET = MIN_CALLS // 2
AUTH_EXAMPLES = 12  # per route, without credentials
# The catalogue routes: their bodies are checked before anything runs and an unknown id is a 404, so fewer calls
# find what more would (and the suite's time budget is spent where the pipeline runs).
CATALOGUE_LIMITS = {
    f"{PREFIX}/batch": 60,
    f"{PREFIX}/batch/{{run_id}}": 15,
    f"{PREFIX}/batch/{{run_id}}/stop": 15,
    f"{PREFIX}/evaluate": 40,  # two folder names checked before any model loads: few calls find what more would
}


def _openapi_of(client) -> dict:
    openapi = client.get("/openapi.json").json()
    request_schema = client.get(f"{PREFIX}/schema").json()
    return garment_openapi(openapi, request_schema, sample_images())


def _sender(app):
    """Calls through schemathesis's own ASGI transport into the double's app (no network)."""

    def send(case):
        return case.call(app=app)

    return send


def test_every_route_answers_fuzzed_calls_in_the_documented_shape(
    any_webui, fresh_engine_modules, record_property
) -> None:
    host = any_webui.with_garment_studio(CN_MODELS)
    client = host.client(nowebui=True)
    tallies = fuzz(
        _openapi_of(client), _sender(host.app), examples=EXAMPLES, time_cap_s=TIME_CAP_S, limits=CATALOGUE_LIMITS
    )
    runs = sys.modules["lib_garment.host.passes.catalogue_runs"].RUNS
    print(report(tallies))
    runs.stop_all()  # the catalogue runs the fuzzed calls started end with the test
    routes = ("version", "schema", "presets", "segment", "maps", "generate", "restore", "batch", "evaluate")
    assert {name.split(" ", 1)[1] for name in tallies} == {f"{PREFIX}/{route}" for route in routes} | {
        f"{PREFIX}/batch/{{run_id}}",
        f"{PREFIX}/batch/{{run_id}}/stop",
    }
    problems = [p for tally in tallies.values() for p in tally.problems]
    assert problems == []
    calls = sum(t.calls for t in tallies.values())
    record_property("fuzz_calls", calls)  # the test command checks the two sets' sum against the floor
    record_property("fuzz_floor", MIN_CALLS)
    assert calls >= MIN_CALLS_PER_SET
    # The documented answers were all reached: valid calls, refused bodies and missing models.
    statuses = {code for tally in tallies.values() for code in tally.statuses}
    assert {200, 422} <= statuses


@pytest.mark.parametrize("flavour", flavours_of_this_set())
def test_with_api_auth_every_route_refuses_fuzzed_calls_without_credentials(
    make_webui, fresh_engine_modules, flavour
) -> None:
    host = make_webui(flavour, cmd_args=["--api-auth", "user:secret"]).with_garment_studio(CN_MODELS)
    client = host.client(nowebui=True)
    # The document is public; the schema route needs the credentials that the fuzzed calls never have.
    openapi = client.get("/openapi.json").json()
    request_schema = client.get(f"{PREFIX}/schema", auth=("user", "secret")).json()
    doc = garment_openapi(openapi, request_schema, sample_images(), auth=True)
    # Every call is refused before its body is read, so a dozen varied calls per route show it as well as more
    # would; the time goes to generating bodies from the large request schema.
    tallies = fuzz(doc, _sender(host.app), examples=AUTH_EXAMPLES, time_cap_s=TIME_CAP_S, auth=True)
    print(report(tallies))
    assert [p for tally in tallies.values() for p in tally.problems] == []
    assert all(set(t.statuses) == {401} for t in tallies.values())
    assert all(t.calls > 0 for t in tallies.values())
