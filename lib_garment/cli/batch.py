"""``python -m lib_garment batch MANIFEST_OR_FOLDER --out DIR [--webui URL]...``: a whole catalogue, unattended
and resumable (lib_garment/catalogue).

Order, so that mistakes cost seconds: the flags, the base request and every row of the manifest are checked
first (all problems at once, exit 2, nothing written); then every server (reachable, --api, ControlNet and
a model for every unit any row uses, the samplers; exit 3 when none is usable); only then is ``DIR`` touched
and the local models load (once for the whole run).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lib_garment.cli.flags import out_folder, positive_seconds
from lib_garment.cli.request_file import read_request_file
from lib_garment.cli.run_inputs import CHECK_TIMEOUT_S, DEFAULT_TIMEOUT_S
from lib_garment.errors import BadInput, ModelUnavailable
from lib_garment.request_data import set_field

if TYPE_CHECKING:
    from lib_garment.catalogue.generators import RemoteWebUI
    from lib_garment.catalogue.jobs import Job
    from lib_garment.catalogue.manifest import Manifest
    from lib_garment.catalogue.runner import RunSummary
    from lib_garment.catalogue.state import JobRecord
    from lib_garment.presets.load import PresetSet

DESCRIPTION = """\
A whole catalogue: one row per SKU in a CSV or JSONL manifest (or a folder of photos), every output made once,
resumable after a crash or Ctrl-C.

Manifest columns: sku (required, unique; names the SKU's folder), image (the photo, relative to the manifest),
mask (optional: keep its non-zero pixels), keep (what to segment: "white t-shirt"), task, prompt,
negative_prompt, preset, variants (how many outputs, default 1), seed, request (a JSON object laid over the base
request, e.g. {"generation": {"steps": 30}}). A folder of photos is a manifest too: sku = the file's stem, and
<stem>.mask.png beside a photo is its mask.

Every row is checked before anything runs; every problem is listed with its row number (exit 2, nothing
written). Jobs that generate run on the --webui servers (repeat the flag for several: each generates one job
at a time, the queue is shared; a server that fails is taken out and its job goes to another). Jobs that
generate nothing (a preset with --background white) run here.

DIR holds batch.sqlite (the state: pending / running / done / failed per job), <sku>/ (the images in the
preset's format, their mattes, mask.png, alpha.png, result.json), results.csv (one row per output) and
index.html (a contact sheet: open it in a browser). Running the same command again resumes: done jobs are
skipped, an edited row runs again, jobs a killed run left behind run again."""

EPILOG = """\
examples:
  python -m lib_garment batch shoot/ --keep "white t-shirt" --preset amazon-main --background white --out out/
  python -m lib_garment batch catalogue.csv --request base.json --out out/ \\
      --webui http://gpu1:7860 --webui http://gpu2:7860
  python -m lib_garment batch catalogue.csv --out out/ --webui http://127.0.0.1:7860 --retry-failed

exit codes: 0 every job done; 1 some failed or were left pending (the summary names them; run again to resume);
2 a bad manifest, request or flag (nothing written); 3 a model, or every server, missing."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "batch",
        help="a whole catalogue from a manifest or a folder of photos, resumable",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "manifest", metavar="MANIFEST_OR_FOLDER", help="a .csv or .jsonl manifest, or a folder of photos"
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="the catalogue's folder (created if missing)")
    parser.add_argument("--request", metavar="BASE.json", help="the base request every row starts from")
    parser.add_argument("--keep", metavar="TEXT", help="what to keep, for rows without keep or mask")
    parser.add_argument("--prompt", metavar="TEXT", help="the prompt, for rows without one")
    parser.add_argument("--preset", metavar="NAME", help="a marketplace preset, for rows without one")
    parser.add_argument("--background", metavar="COLOUR", help='with a preset: "white" or "#RRGGBB", nothing generated')
    parser.add_argument("--webui", action="append", metavar="URL", help="a WebUI that generates (repeat for several)")
    parser.add_argument("--api-auth", metavar="USER:PASS", help="credentials of WebUIs started with --api-auth")
    parser.add_argument(
        "--broker", metavar="URL",
        help="queue the generating jobs on this Redis (redis:// or rediss://) for `worker` processes, one per WebUI "
        "server, instead of --webui (needs the scale extra; README: Many servers)",
    )  # fmt: skip
    parser.add_argument(
        "--visibility-timeout", type=float, metavar="SECONDS",
        help="with --broker: as the workers' (default: --timeout + 300)",
    )  # fmt: skip
    parser.add_argument("--retry-failed", action="store_true", help="run only the jobs that failed before")
    parser.add_argument("--max-failures", type=int, metavar="N", help="stop after N jobs failed in this run")
    parser.add_argument("--dry-run", action="store_true", help="check everything and say what would run; write nothing")
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="SECONDS",
        help=f"longest wait for one generation (default {DEFAULT_TIMEOUT_S:g})",
    )  # fmt: skip
    parser.add_argument("--models-dir", help="the WebUI's models folder (default: found from the WebUI)")
    parser.add_argument("--device", choices=("cpu", "cuda"), help="where local models run (default: cuda if any)")
    parser.add_argument("--offline", action="store_true", help="never download: use only model files on disk")
    parser.set_defaults(func=run)


_BASE_FLAGS = {"keep": "segment.phrases", "prompt": "prompt", "preset": "preset", "background": "output.background"}


def base_request(args: argparse.Namespace) -> dict[str, Any]:
    """--request's object with the flags laid over it (each row may override any of it)."""
    data = read_request_file(args.request) if args.request else {}
    for attr, path in _BASE_FLAGS.items():
        value = getattr(args, attr)
        if value is not None:
            set_field(data, path, value)
    if args.keep is not None:
        set_field(data, "segment.mask_source", "phrase")
    return data


def run(args: argparse.Namespace) -> int:
    from lib_garment.catalogue.jobs import needs_server, plan_jobs
    from lib_garment.catalogue.manifest import read_manifest
    from lib_garment.catalogue.runner import RunOptions, run_catalogue
    from lib_garment.evaluate.fidelity import record_fidelity

    if args.max_failures is not None and args.max_failures < 1:
        raise BadInput(f"--max-failures must be 1 or more, got {args.max_failures}")
    positive_seconds(args.timeout)
    out = out_folder(args.out)
    base = base_request(args)
    manifest = read_manifest(args.manifest)
    jobs = plan_jobs(manifest, base, models_dir=args.models_dir)
    generating = needs_server(jobs)
    if args.broker is not None:
        return _queued(args, manifest, jobs, out)
    if generating and not args.webui:
        skus = ", ".join(dict.fromkeys(job.sku for job in generating[:8]))
        raise BadInput(
            f"{len(generating)} job(s) generate ({skus}{', …' if len(generating) > 8 else ''}) and only a WebUI "
            "generates: give --webui URL (repeat it for several servers), or a preset with --background white to "
            "frame the photographed products with nothing generated"
        )
    servers = _servers(args, generating) if generating else []
    if _announce(args, manifest, jobs, out, f"on {len(servers)} server(s)"):
        return 0  # --dry-run
    events = _Progress()
    _stop_on_sigterm()
    try:
        summary = run_catalogue(
            jobs, out, servers, _environment(args), retry_failed=args.retry_failed, presets=_presets(args, jobs),
            options=RunOptions(timeout=args.timeout, max_failures=args.max_failures), events=events,
            on_notes=lambda notes: [print(f"note: {n}", file=sys.stderr) for n in notes],
        )  # fmt: skip
    finally:
        events.close()
    _print_summary(summary, out, record_fidelity(out, jobs))
    return summary.exit_code


def _queued(args: argparse.Namespace, manifest: Any, jobs: list[Job], out: Path) -> int:
    """--broker: the generating jobs queued for the workers (lib_garment/scale), the rest made here."""
    from lib_garment.scale.app import check_timeouts, default_visibility
    from lib_garment.scale.broker import parse_broker
    from lib_garment.scale.extra import require_celery

    if args.webui:
        raise BadInput("give --webui (servers driven from here) or --broker (servers behind workers), not both")
    broker = parse_broker(args.broker)
    visibility = args.visibility_timeout if args.visibility_timeout is not None else default_visibility(args.timeout)
    check_timeouts(args.timeout, visibility)
    require_celery()
    from lib_garment.evaluate.fidelity import record_fidelity
    from lib_garment.scale.broker import check_broker
    from lib_garment.scale.coordinator import QueueOptions, run_queued

    check_broker(broker)
    if _announce(args, manifest, jobs, out, f"through the broker {broker.shown}"):
        return 0  # --dry-run
    options = QueueOptions(broker, args.timeout, visibility, max_failures=args.max_failures)
    events = _Progress()
    try:
        summary = run_queued(
            jobs, out, _environment(args), options, retry_failed=args.retry_failed, presets=_presets(args, jobs),
            events=events, on_notes=lambda notes: [print(f"note: {n}", file=sys.stderr) for n in notes],
        )  # fmt: skip
    finally:
        events.close()
    _print_summary(summary, out, record_fidelity(out, jobs))
    return summary.exit_code


def _servers(args: argparse.Namespace, jobs: list[Job]) -> list[RemoteWebUI]:
    """Every --webui checked for what the jobs need; the unusable ones named and left out (exit 3 when none is
    left)."""
    from lib_garment.catalogue.generators import RemoteWebUI
    from lib_garment.catalogue.jobs import distinct_requests
    from lib_garment.client.http import parse_auth
    from lib_garment.client.webui import WebUI
    from lib_garment.errors import GarmentError

    auth = parse_auth(args.api_auth)
    requests = distinct_requests(jobs)
    usable, problems = [], []
    for url in dict.fromkeys(args.webui):
        server = WebUI.connect(url, auth, timeout=CHECK_TIMEOUT_S)
        try:
            remote = RemoteWebUI(server, server.check())
            for request in requests:
                remote.check_request(request)
        except BadInput:
            raise
        except GarmentError as err:
            problems.append(str(err))
            print(f"warning: {url} is left out: {err}", file=sys.stderr)
            continue
        cn = remote.info.controlnet
        print(f"{url}: checkpoint {remote.info.checkpoint or 'unknown'}, "
              f"{'ControlNet: ' + cn.flavour if cn else 'no ControlNet'}", file=sys.stderr)  # fmt: skip
        usable.append(remote)
    if not usable:
        raise ModelUnavailable("no usable WebUI: " + "; ".join(problems))
    return usable


def _presets(args: argparse.Namespace, jobs: list[Job]) -> PresetSet | None:
    """The presets the rows were checked against (``--models-dir``'s user presets included), loaded once for the
    run: framing then finds the same ones (left to itself it would read the default models folder's, per job)."""
    from lib_garment.presets.load import load_presets

    return load_presets(args.models_dir) if any(job.request.preset is not None for job in jobs) else None


def _environment(args: argparse.Namespace) -> Any:
    from lib_garment.models.progress import TqdmProgress
    from lib_garment.models.settings import ModelSettings
    from lib_garment.paths import models_root

    if args.device is not None and args.device.startswith("cuda"):
        from lib_garment.runtime.devices import resolve_device

        resolve_device(args.device)
    return ModelSettings(
        models_root=models_root(args.models_dir),
        device=args.device,
        offline=True if args.offline else None,
        progress=TqdmProgress(min_bytes=1 << 20),
    )


def _announce(args: argparse.Namespace, manifest: Manifest, jobs: list[Job], out: Path, where: str) -> bool:
    """Say what the run will do (done already, to run here and ``where``); with --dry-run list each job to run
    and return True: nothing more is to be done."""
    from lib_garment.catalogue.state import done_ids

    done = done_ids(out)
    pending = [job for job in jobs if job.id not in done]
    print(
        f"{manifest.source}: {len(manifest.rows)} SKU(s), {len(jobs)} job(s): {len(jobs) - len(pending)} done "
        f"already, {len(pending)} to run ({sum(job.local for job in pending)} here, "
        f"{sum(not job.local for job in pending)} {where})",
        file=sys.stderr,
    )
    if args.dry_run:
        for job in pending:
            print(f"would run: {job.label} (row {job.row}, seed {job.seed}){' here' if job.local else ''}")
    return bool(args.dry_run)


def _stop_on_sigterm() -> None:
    """SIGTERM (systemctl stop, docker stop) stops the run as Ctrl-C does: after the running jobs, resumable."""
    import signal
    import threading

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():  # signals are only for the main thread
        signal.signal(signal.SIGTERM, interrupt)


class _Progress:
    """A tqdm bar (done / failed / ETA) and one line per job above it."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._done = self._failed = 0

    def started(self, total: int) -> None:
        from tqdm import tqdm

        self._bar = tqdm(total=total, unit="job", dynamic_ncols=True, file=sys.stderr, disable=None)

    def job_ended(self, record: JobRecord, line: str) -> None:
        if record.status == "done":
            self._done += 1
        else:
            self._failed += 1
        self._write(line)
        if self._bar is not None:
            self._bar.set_postfix(done=self._done, failed=self._failed, refresh=False)
            self._bar.update(1)

    def note(self, text: str) -> None:
        self._write(f"note: {text}")

    def _write(self, line: str) -> None:
        if self._bar is not None:
            self._bar.write(line, file=sys.stderr)
        else:
            print(line, file=sys.stderr)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _print_summary(summary: RunSummary, out: Path, fidelity: dict[str, Any] | None) -> None:
    """The counts, why the run stopped, each failure, the product fidelity the run's end measured (None: nothing
    done to measure), then the files to open."""
    from lib_garment.evaluate.fidelity import FIDELITY_FILE, fidelity_alarm, fidelity_line

    counts = summary.counts
    print(
        f"{counts['done']} done, {counts['failed']} failed, {counts['pending'] + counts['running']} pending "
        f"({summary.ran} finished in this run)",
        file=sys.stderr,
    )
    if summary.stopped:
        print(f"stopped early: {summary.stopped}", file=sys.stderr)
    for record in summary.failed:
        print(f"failed: {record.sku} #{record.variant} (row {record.row}): {record.error}", file=sys.stderr)
    if fidelity is not None:
        print(fidelity_line(fidelity), file=sys.stderr)
        if alarm := fidelity_alarm(fidelity):
            print(f"error: {alarm}", file=sys.stderr)
    print(out / "results.csv")
    print(out / "index.html")
    if (out / FIDELITY_FILE).is_file():
        print(out / FIDELITY_FILE)
