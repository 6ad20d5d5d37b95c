"""``tagger train | evaluate | info | tag | serve``.

Every field of the config dataclasses is also a flag (``--hidden-size 200``), so a
config file is optional and any value in it can be overridden on the command line.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import shlex
import signal
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import IO

from pydantic.fields import FieldInfo

from tagger.batching import DEFAULT_BATCH_TOKENS
from tagger.config import SECTIONS, Config, load_config, set_field
from tagger.errors import TaggerError
from tagger.heap import settle_after_loading
from tagger.io import INPUT_FORMATS, OUTPUT_FORMATS, format_from_name
from tagger.labeler import BACKEND_HELP, BACKENDS

EXIT_SIGTERM, EXIT_SIGINT = 143, 130  # 128 + signal number, as shells report them


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    for section, cls in SECTIONS.items():
        group = parser.add_argument_group(f"{section} settings (override --config)")
        for f in dataclasses.fields(cls):
            flag = "--" + f.name.replace("_", "-")
            default = f.default
            if isinstance(default, FieldInfo):  # a list: pydantic's default factory
                default = default.get_default(call_default_factory=True)
            dest = f"cfg__{section}__{f.name}"
            if isinstance(default, list):
                group.add_argument(flag, dest=dest, nargs="+", metavar="DIR", default=None, help="default none")
            elif isinstance(default, bool):
                group.add_argument(
                    flag, dest=dest, action=argparse.BooleanOptionalAction, default=None, help=f"default {default}"
                )
            else:
                group.add_argument(flag, dest=dest, type=type(default), default=None, help=f"default {default}")


def _config_from_args(args: argparse.Namespace) -> Config:
    config = load_config(args.config) if args.config else Config()
    _apply_flags(config, args)
    return config


def _apply_flags(config: Config, args: argparse.Namespace) -> None:
    for key, value in vars(args).items():
        if key.startswith("cfg__") and value is not None:
            _, section, name = key.split("__")
            set_field(config, f"{section}.{name}", value, "command line")


@contextlib.contextmanager
def _stop_flag(*signums: signal.Signals) -> Iterator[list[int]]:
    """The signals set a flag (the signal's number) that the caller checks at safe
    points, between batches or chunks: no file is ever left half written by a signal
    landing inside a write. Main thread only; the previous handlers come back after."""
    flag = [0]

    def handler(signum: int, frame: FrameType | None) -> None:
        flag[0] = signum

    previous = {s: signal.signal(s, handler) for s in signums}
    try:
        yield flag
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


def _exit_status(signum: int) -> int:
    return EXIT_SIGINT if signum == signal.SIGINT else EXIT_SIGTERM


def cmd_train(args: argparse.Namespace) -> int:
    _need_torch("train")
    from tagger.device import set_threads
    from tagger.finalfit import final_fit_from
    from tagger.resume import resume_arguments
    from tagger.train import train

    command = "tagger " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    final_fit = None
    if args.resume:
        given = [k for k, v in vars(args).items() if k.startswith("cfg__") and v is not None]
        given += [f for f in ("train", "dev", "output", "embeddings", "config", "final_fit") if getattr(args, f)]
        if given:
            flags = ", ".join("--" + g.split("__")[-1].replace("_", "-") for g in given)
            raise TaggerError(f"--resume continues the run as it was started; drop {flags}")
        train_path, dev_path, config, embeddings, final_fit = resume_arguments(args.resume)
        output = args.resume
    else:
        missing = [flag for flag in ("train", "dev", "output") if getattr(args, flag) is None]
        if missing:
            raise TaggerError(f"tagger train needs {', '.join('--' + m for m in missing)} (or --resume DIR)")
        train_path, dev_path, output = args.train, args.dev, args.output
        config, embeddings = _config_from_args(args), args.embeddings
        flagged = getattr(args, "cfg__data__format", None) is not None
        if not flagged and config.data.format == "conll" and train_path.endswith(".conllu"):
            config.data.format = "conllu"  # the file's name says so; --format (or a config's other format) wins
        if args.final_fit:  # the selection run's configuration, the flags given here on top
            final_fit, config = final_fit_from(*args.final_fit)
            _apply_flags(config, args)
    set_threads(config.train.threads)
    with _stop_flag(signal.SIGTERM, signal.SIGINT) as stopped:
        result = train(
            train_path,
            dev_path,
            output,
            config,
            embeddings,
            command=command,
            licence=args.licence,
            progress=not args.quiet,
            should_stop=lambda: bool(stopped[0]),
            resume=bool(args.resume),
            final_fit=final_fit,
        )
    if not result.main:  # another rank of a torchrun launch: rank 0 reports and writes
        return _exit_status(stopped[0]) if result.interrupted else 0
    if result.best_epoch == 0:
        print("error: training stopped before the first epoch finished; nothing saved", file=sys.stderr)
    else:
        print(f"best dev score {result.best_score:.4f} at epoch {result.best_epoch}; model in {result.output}")
    if result.interrupted:
        return _exit_status(stopped[0])
    return 0 if result.best_epoch else 1


def cmd_evaluate(args: argparse.Namespace) -> int:
    _need_torch("evaluate")  # reading corpora goes through the training code
    from tagger.evaluate import evaluate
    from tagger.labeler import Labeler
    from tagger.train import load_data

    labeler = Labeler.load([args.model], device=args.device, batch_tokens=args.batch_tokens, backend=args.backend)
    settle_after_loading()
    loaded = next(iter(labeler.models.values()))
    config = Config(data=dataclasses.replace(loaded.config.data))
    if args.format:
        config.data.format = args.format
    elif format_from_name(args.file) in ("conll", "conllu"):  # the file's name says, as for train and tag
        config.data.format = format_from_name(args.file)  # type: ignore[assignment]
    if args.tag_column is not None:
        config.data.tag_column = args.tag_column
    result = evaluate(labeler, loaded.name, load_data(args.file, config), args.casing)
    if args.json:
        print(json.dumps(result))
        return 0
    print(
        f"{args.file}: {result['sentences']} sentences, {result['tokens']} tokens, "
        f"{result['sentences_per_second']:.0f} sentences/s"
    )
    print(f"token accuracy {result['accuracy']:.4f}")
    if "micro" in result:
        for mode, scores in (("conlleval", result), ("strict IOB2", result["strict"])):
            print(f"\nentity scores ({mode} mode)")
            print(f"{'type':<10}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>9}")
            for name, row in [*scores["per_type"].items(), ("micro", scores["micro"])]:
                print(f"{name:<10}{row['precision']:>10.4f}{row['recall']:>10.4f}{row['f1']:>10.4f}{row['support']:>9}")
    return 0


def cmd_tag_ray(args: argparse.Namespace) -> int:
    from tagger.ray_tag import tag_with_ray
    from tagger.resources import default_model_paths

    if args.actors < 1:
        raise TaggerError("--actors takes a number of at least 1")
    inputs = [Path(p) for p in args.inputs]
    formats = {args.input_format or format_from_name(str(p)) for p in inputs}
    if len(formats) > 1:
        raise TaggerError(f"inputs of several formats ({', '.join(sorted(formats))}); give --input-format")
    stats = tag_with_ray(
        inputs,
        Path(args.outdir),
        [str(m) for m in (args.model or default_model_paths())],
        formats.pop(),
        args.address,
        args.actors,
        args.device,
        args.batch_tokens,
        skip_errors=args.skip_errors,
        progress=not args.quiet,
    )
    if not args.quiet:
        rate = stats.tokens / max(stats.seconds, 1e-9)
        print(
            f"tagged {stats.documents} documents, {stats.tokens} tokens from {stats.files} files in "
            f"{stats.seconds:.1f}s ({rate:,.0f} tokens/s; Ray start-up {stats.startup_seconds:.1f}s)"
            + (f", {stats.skipped} bad records skipped" if stats.skipped else ""),
            file=sys.stderr,
        )
    return 0


def _need_torch(command: str) -> None:
    """A clear error where a command needs torch and this installation has none (the
    torch-free Docker image runs models on the onnx backend only)."""
    try:
        import torch  # noqa: F401
    except ImportError:
        raise TaggerError(f"{command} needs torch, which is not installed here (pip install torch==2.13.0)") from None


def cmd_export_onnx(args: argparse.Namespace) -> int:
    from tagger.onnx_backend import export

    for model in args.models:
        exported = export(model)
        for path in exported.paths:
            print(f"wrote {path}")
        if exported.int8_note:
            print(exported.int8_note)
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from tagger.card import facts
    from tagger.labeler import Labeler

    Labeler.load([args.model], device="cpu")  # validates every file, on whichever backend auto takes
    f = facts(Path(args.model))
    if args.json:
        print(json.dumps(f))
        return 0
    print(
        f"{f['name']}: task {f['task']}, {len(f['labels'])} labels ({f['label_scheme']}), "
        f"{f['vocabulary']} words, {f['size_mb']} MB"
    )
    print(f"labels: {' '.join(f['labels'])}")
    trained = f"best epoch {f['best_epoch']} of {f['epochs_run']}, {f['seconds_per_epoch']} s/epoch"
    if f["trained_on_dev"] and f["dev_estimate"] is not None:
        on_dev = f" where it scores {f['dev_main']:.4f}" if isinstance(f["dev_main"], int | float) else ""
        print(
            f"estimated dev score {f['dev_estimate']:.4f} (the selection run's; this model was then "
            f"trained on dev,{on_dev}; {trained})"
        )
    elif f["dev_estimate"] is not None:
        print(f"dev score {f['dev_estimate']:.4f} ({trained})")
    seeds = [s for s in f["seeds"] if isinstance(s, dict) and isinstance(s.get("dev_main"), int | float)]
    if seeds:  # metrics.json is the user's to edit: what is not a number is left out, not a traceback
        print("seeds: " + ", ".join(f"{s.get('seed')}={s['dev_main']:.4f}" for s in seeds))
    return 0


def cmd_tag(args: argparse.Namespace) -> int:
    from tagger.device import set_threads
    from tagger.pipeline import Tagger
    from tagger.resources import default_model_paths
    from tagger.tagfiles import tag_stream
    from tagger.workers import default_workers

    if args.workers < 0 or args.threads < 0:
        raise TaggerError("--workers and --threads take a positive number (0: the default)")
    input_format = args.input_format or format_from_name(args.input)
    if "-" not in (args.input, args.output) and _same_file(args.input, args.output):
        # Opening the output truncates it before the first record is read.
        raise TaggerError(f"{args.output}: is the input file; write the output elsewhere")
    set_threads(args.threads)
    tagger = Tagger.load(
        args.model or default_model_paths(), device=args.device, batch_tokens=args.batch_tokens, backend=args.backend
    )
    settle_after_loading()  # before the workers fork: they inherit it
    with contextlib.ExitStack() as stack:
        # SIGTERM and SIGHUP stop the run between two chunks, so every document before
        # the stop is written whole; the workers die with this process however it ends.
        stopped = stack.enter_context(_stop_flag(signal.SIGTERM, signal.SIGHUP))
        if args.input == "-":
            source, name = sys.stdin.buffer, "<stdin>"
        else:
            try:
                source, name = stack.enter_context(open(args.input, "rb")), args.input
            except OSError as exc:
                raise TaggerError(f"{args.input}: cannot read: {exc.strerror}") from None
        if args.output == "-":
            out = sys.stdout
        else:
            try:
                out = open(args.output, "w", encoding="utf-8", newline="\n")  # noqa: SIM115 (closed below)
            except OSError as exc:
                raise TaggerError(f"{args.output}: cannot write: {exc.strerror}") from None
            stack.callback(_close_output, out, args.output)
        stats = tag_stream(
            tagger,
            source,
            out,
            name,
            input_format,
            args.output_format,
            output_name="<stdout>" if args.output == "-" else args.output,
            skip_errors=args.skip_errors,
            workers=args.workers or default_workers(tagger.device),
            worker_threads=args.threads or 1,
            progress=not args.quiet and sys.stderr.isatty(),  # the bar goes to stderr
            should_stop=lambda: bool(stopped[0]),
        )
    if not args.quiet:
        rate = stats.tokens / max(stats.seconds, 1e-9)
        skipped = f", {stats.skipped} bad records skipped" if stats.skipped else ""
        print(
            f"tagged {stats.documents} documents, {stats.tokens} tokens in {stats.seconds:.1f}s "
            f"({rate:,.0f} tokens/s){skipped}",
            file=sys.stderr,
        )
    if stats.stopped:
        name = signal.Signals(stopped[0]).name
        print(f"stopped by {name}; the output holds every document before the stop", file=sys.stderr)
        return EXIT_SIGTERM
    return 0


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return False


def _close_output(out: IO[str], name: str) -> None:
    """Close the output; closing flushes what is left, which can fail as a write does."""
    try:
        out.close()
    except OSError as exc:
        raise TaggerError(f"{name}: cannot write: {exc.strerror}") from None


def cmd_serve(args: argparse.Namespace) -> int:
    # The service lives in the `api` package; the library itself never imports web code.
    try:
        from api.server import serve
    except ImportError as exc:
        raise TaggerError(f"the service needs the [serve] extra: pip install 'tagger[serve]' ({exc})") from None
    serve(args.host, args.port, args.model, args.device, args.log_level, args.workers)
    return 0


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"port must be a number, not {value!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 1 to 65535, not {port}")
    return port


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tagger", description="Bi-LSTM-CRF named-entity and POS tagger")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a model directory from CoNLL / CoNLL-U files")
    p.add_argument("--train", help="training corpus")
    p.add_argument("--dev", help="dev corpus (early stopping, model selection)")
    p.add_argument("--output", help="model directory to write (replaced whole, only by a better epoch)")
    p.add_argument("--resume", metavar="DIR", help="continue the interrupted training into DIR from its last epoch")
    p.add_argument(
        "--final-fit",
        metavar="SELECTION_DIR",
        nargs="+",
        help="train on --train and --dev together for the best epoch count of the finished run SELECTION_DIR, "
        "with its configuration; the card reports that run's dev score. Several runs (seeds of one recipe): "
        "their median best epoch, their mean dev score",
    )
    p.add_argument("--embeddings", help="GloVe-format vectors (.txt or .txt.gz)")
    p.add_argument("--config", help="JSON, TOML or YAML config file")
    p.add_argument("--licence", default="", help="data licence, stated in the model card")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_config_flags(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="score a model on a tagged file")
    p.add_argument("model", help="model directory")
    p.add_argument("file", help="tagged corpus")
    p.add_argument("--format", choices=["conll", "conllu"], help="default: the model's training format")
    p.add_argument("--tag-column", type=int, help="CoNLL tag column (default: the model's)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--device", default=None, help="auto (default), cpu, cuda, cuda:N")
    p.add_argument(
        "--backend",
        choices=BACKENDS,
        default="auto",
        help=BACKEND_HELP,
    )
    p.add_argument("--batch-tokens", type=int, default=DEFAULT_BATCH_TOKENS, help="padded tokens of one forward pass")
    p.add_argument(
        "--casing", choices=["as-is", "lower", "upper"], default="as-is", help="re-case every token before tagging"
    )
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("export-onnx", help="write recurrent.onnx into model directories (the onnx backend)")
    p.add_argument("models", nargs="+", help="model directories")
    p.set_defaults(func=cmd_export_onnx)

    p = sub.add_parser("info", help="print a model card's facts")
    p.add_argument("model", help="model directory")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("tag", help="tag a file (text, lines, JSONL, CoNLL, CoNLL-U) into JSONL or CoNLL")
    p.add_argument("input", help="input file, or - for stdin")
    p.add_argument("-o", "--output", default="-", help="output file, or - for stdout (default)")
    p.add_argument("--model", action="append", help="model directory (repeatable; default: the shipped models)")
    p.add_argument(
        "--input-format",
        choices=INPUT_FORMATS,
        help="text: documents separated by blank lines; lines: one document per line; jsonl: {id, text} "
        "records; conll/conllu: pre-tokenized sentences (default: from the file name, else text)",
    )
    p.add_argument("--output-format", choices=OUTPUT_FORMATS, default="jsonl")
    p.add_argument("--batch-tokens", type=int, default=DEFAULT_BATCH_TOKENS, help="padded tokens of one forward pass")
    p.add_argument("--device", default=None, help="auto (default), cpu, cuda, cuda:N")
    p.add_argument(
        "--backend",
        choices=BACKENDS,
        default="auto",
        help=BACKEND_HELP,
    )
    p.add_argument(
        "--threads",
        type=int,
        default=0,
        help=(
            "threads per process: torch's or ONNX Runtime's (an int8 export without range anchors "
            "runs sentences side by side) (default: 1 with workers)"
        ),
    )
    p.add_argument(
        "--workers", type=int, default=0, help="tagging processes on CPU (default: one per core, at most 8; 1 on CUDA)"
    )
    p.add_argument("--skip-errors", action="store_true", help="report bad records and go on instead of stopping")
    p.add_argument("--quiet", action="store_true", help="no progress bar, no summary")
    p.set_defaults(func=cmd_tag)

    p = sub.add_parser("tag-ray", help="tag JSONL or text files on a Ray cluster (Ray Data), one JSONL file each")
    p.add_argument("inputs", nargs="+", help="input files (jsonl, lines or text)")
    p.add_argument("-o", "--outdir", required=True, help="directory for OUTDIR/<input name>.jsonl")
    p.add_argument("--model", action="append", help="model directory (repeatable; default: the shipped models)")
    p.add_argument("--input-format", choices=["jsonl", "lines", "text"], help="default: from the file name, else text")
    p.add_argument("--address", default="local", help="local (start Ray here), auto (the running cluster), ray://...")
    p.add_argument("--actors", type=int, default=1, help="tagging actors, each with the models loaded once")
    p.add_argument("--device", default=None, help="auto (default: a GPU per actor where the cluster has GPUs), cpu")
    p.add_argument("--batch-tokens", type=int, default=DEFAULT_BATCH_TOKENS, help="padded tokens of one forward pass")
    p.add_argument("--skip-errors", action="store_true", help="report bad records and go on instead of stopping")
    p.add_argument("--quiet", action="store_true", help="no progress bars, no summary")
    p.set_defaults(func=cmd_tag_ray)

    p = sub.add_parser("serve", help="serve models over HTTP (POST /tag)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=_port, default=8000)
    p.add_argument("--model", action="append", help="model directory (repeatable; default: the shipped models)")
    p.add_argument("--device", default=None, help="auto (default), cpu, cuda, cuda:N")
    p.add_argument("--log-level", default="info")
    p.add_argument(
        "--workers", type=int, help="server processes, each loading the models (default 1, or TAGGER_WORKERS)"
    )
    p.set_defaults(func=cmd_serve)
    return parser


def main(argv: Sequence[str] | None = None, fast_exit: bool = False) -> int:
    """Run one command; returns its exit status. ``fast_exit`` (the ``tagger`` command,
    ``python -m tagger``): see ``_end_now``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = int(args.func(args))
    except TaggerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        code = EXIT_SIGINT
    if fast_exit and args.func in (cmd_tag, cmd_evaluate, cmd_info):
        _end_now(code)
    if fast_exit and args.func is cmd_train and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        # A rank of a torchrun launch: its process group is destroyed by now, but
        # Python's teardown could still free objects gloo's threads hold (the DDP model's
        # buffers) and abort the rank with SIGABRT ("terminate called without an active
        # exception"): 1 run in 6 of the torchrun test on a busy machine.
        _end_now(code)
    return code


def _end_now(code: int) -> None:
    """End the process without the interpreter's teardown.

    With torch loaded, Python's own shutdown (freeing every module and object, torch's
    exit handlers) takes about 0.3 s, a fifth of a short ``tagger tag``. The commands
    let through here have closed every file and worker pool they opened before
    returning, so only the standard streams can still hold unwritten bytes: they are
    flushed, and where that fails (a closed pipe) the normal exit runs and reports it.
    Not for commands that leave services behind to stop at exit (a local Ray
    instance, the server); ``train`` under torchrun destroys its process group before
    returning."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return
    os._exit(code)


def run() -> None:
    """The ``tagger`` console command."""
    sys.exit(main(fast_exit=True))


if __name__ == "__main__":
    run()
