"""``fieldops plan``: run the optimizer on a file and print what the plan achieves."""

from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path

import click

from dispatch.planning.proposals import published
from optimizer import (
    InvalidProblem,
    Priority,
    Solution,
    SolveParams,
    check,
    plan_document,
    read_problem,
    solve,
)
from web.cli._common import (
    InputError,
    cli,
    finite_seconds,
    iso_date,
    output_path,
    transaction,
    write_text,
)

#: Job ids printed per reason a plan leaves jobs out.
UNASSIGNED_IDS_SHOWN = 5
LONGEST_TIME_LIMIT_S = 24 * 3600.0


@cli.command("plan")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--time-limit",
    type=click.FloatRange(min=0, max=LONGEST_TIME_LIMIT_S),
    default=30.0,
    show_default=True,
    callback=finite_seconds,
    help="Seconds the optimizer may search.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    callback=output_path,
    help="Write the plan (fieldops-plan/1) here.",
)
def plan_command(file: Path, time_limit: float, output: Path | None) -> None:
    """Plan a fieldops-scenario/1 day or a Solomon instance and print the figures."""
    try:
        problem = read_problem(file)
    except FileNotFoundError:
        raise InputError(f"{file}: no such file") from None
    except OSError as exc:
        raise InputError(f"cannot read {file}: {exc.strerror}") from None
    except RecursionError:
        raise InputError(f"{file} is not a problem fieldops reads: nested too deeply") from None
    except (InvalidProblem, ValueError) as exc:
        problems = exc.problems if isinstance(exc, InvalidProblem) else [str(exc)]
        raise InputError.listing(f"{file} is not a valid problem", problems) from None
    started = time.monotonic()
    solution = solve(problem, SolveParams(time_limit_s=time_limit))
    elapsed = time.monotonic() - started
    report = check(problem, solution)
    click.echo(
        f"{problem.name}: {len(problem.jobs)} jobs, {len(problem.technicians)} technicians,"
        f" planned in {elapsed:.1f} s"
    )
    for priority in Priority:
        total = report.served[priority] + report.unserved[priority]
        if total:
            click.echo(f"  {priority.value:<9} served {report.served[priority]:>5} of {total}")
    click.echo(f"  travel {report.travel_minutes:,.1f} min, late {report.late_minutes:,.1f} min")
    _echo_unassigned(solution)
    if not report.feasible:
        for violation in report.violations[:10]:
            click.echo(f"  violation [{violation.cause}] {violation.message}", err=True)
        raise click.ClickException("the plan breaks a hard rule (a bug: please report it)")
    click.echo(f"  score {report.score:,.1f}")
    if output is not None:
        write_text(output, json.dumps(plan_document(problem, solution), indent=1) + "\n")
        click.echo(f"Wrote the plan to {output}.")


@cli.command("export-plan")
@click.argument("day", metavar="DATE", callback=iso_date)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    callback=output_path,
    help="Write the plan (fieldops-plan/1) here.",
)
@click.pass_context
def export_plan_command(ctx: click.Context, day: date, output: Path) -> None:
    """Write the published plan of DATE (YYYY-MM-DD) in fieldops-plan/1."""
    with transaction(ctx) as session:
        current = published(session, day)
    if current is None:
        raise InputError(
            f"no plan of {day} is published; plan it with: fieldops plan-day {day} --publish"
        )
    version, plan = current
    write_text(output, json.dumps(plan.document, indent=1, ensure_ascii=False) + "\n")
    click.echo(f"Wrote the published plan of {day} (version {version}) to {output}.")


def _echo_unassigned(solution: Solution) -> None:
    """The jobs left out, grouped by reason: most frequent reason first, a few ids each."""
    if not solution.unassigned:
        return
    jobs_by_reason: dict[str, list[str]] = {}
    for item in solution.unassigned:
        jobs_by_reason.setdefault(item.reason, []).append(item.job)
    click.echo(f"  unassigned {len(solution.unassigned)} jobs:")
    for reason, jobs in sorted(jobs_by_reason.items(), key=lambda entry: -len(entry[1])):
        shown = ", ".join(jobs[:UNASSIGNED_IDS_SHOWN])
        if len(jobs) > UNASSIGNED_IDS_SHOWN:
            shown += f" and {len(jobs) - UNASSIGNED_IDS_SHOWN} more"
        click.echo(f"  {len(jobs):>5}  {reason}: {shown}")
