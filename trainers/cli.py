"""``affect-train``: train and evaluate the student and the sequence model on labelled face data.

Subcommands: student, teacher, pseudo-label, sequence, eval, faces, faces-eval, teacher-labels, agreement,
prepare. Exit codes: 0 done,
1 unexpected internal error, 2 bad input (one-line message), 130 interrupted.
"""
from __future__ import annotations

import argparse
import logging
import sys
from typing import Sequence

from trainers import commands
from trainers.cli_args import build_parser

__all__ = ["main", "build_parser"]



def main(argv: Sequence[str] | None = None) -> int:
    from rich.console import Console

    args = build_parser().parse_args(argv)
    console = Console(stderr=True)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s")
    try:
        if args.command != "prepare":  # prepare crops faces with the runtime alone
            from realtime_affect.system.extras import require_extra

            require_extra("train", f"affect-train {args.command}")
        return _dispatch(args, console)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted: resume with --resume[/]")
        return 130
    except Exception as exc:  # one line and the exit code every command gives (realtime_affect.console)
        from realtime_affect.console import report_error

        return report_error(exc, args.verbose, "affect-train")


#: subcommand -> what runs it (``trainers/commands.py``); "teacher" trains a student as a teacher
COMMANDS = {"student": commands.student, "teacher": commands.student, "pseudo-label": commands.pseudo_label,
            "sequence": commands.sequence, "sequence-faces": commands.sequence_faces, "eval": commands.evaluate,
            "teacher-labels": commands.teacher_labels, "agreement": commands.agreement, "faces": commands.faces,
            "faces-eval": commands.faces_eval, "prepare": commands.prepare}


def _dispatch(args: argparse.Namespace, console) -> int:
    return COMMANDS[args.command](args, console)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
