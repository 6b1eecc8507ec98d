"""``fieldops plan``: run the optimizer on a file and print what the plan achieves."""

from __future__ import annotations

import json
import signal
import threading
import time
from datetime import date
from pathlib import Path

import click
from sqlalchemy import select

from dispatch.enums import RunState
from dispatch.models import Plan
from dispatch.planning.execute import Progress, execute_run
from dispatch.planning.jobqueue import stop_on_signals, wait_for_run
from dispatch.planning.proposals import ProposalClosed, published
from dispatch.planning.publish import StalePlan, publish
from dispatch.planning.runs import RunInProgress, request_run
from mobile_api.http import SESSIONS_KEY
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
    EnvironmentFailure,
    InputError,
    cli,
    database,
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
    "--iterations",
    type=click.IntRange(min=1),
    help="Search this many iterations instead of until the time limit (which still caps"
    " the run): the same seed then gives the same plan.",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Seed of the search's random choices.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    callback=output_path,
    help="Write the plan (fieldops-plan/1) here.",
)
def plan_command(
    file: Path, time_limit: float, iterations: int | None, seed: int, output: Path | None
) -> None:
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
    params = SolveParams(time_limit_s=time_limit, iterations=iterations, seed=seed)
    solution = solve(problem, params)
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


@cli.command("plan-day")
@click.argument("day", metavar="DATE", callback=iso_date)
@click.option(
    "--time-limit",
    type=click.IntRange(min=1, max=int(LONGEST_TIME_LIMIT_S)),
    default=30,
    show_default=True,
    help="Seconds the optimizer may search.",
)
@click.option("--publish", "publish_it", is_flag=True, help="Publish the proposal at once.")
@click.option(
    "--replan",
    is_flag=True,
    help="Start from the published plan and keep its jobs with their technicians.",
)
@click.pass_context
def plan_day_command(
    ctx: click.Context, day: date, time_limit: int, publish_it: bool, replan: bool
) -> None:
    """Plan DATE (YYYY-MM-DD) from the database: a run, then its proposal (published if asked).

    The run is recorded like one a dispatcher starts (one active run per day) and solved
    in a process of its own; progress is printed as the search improves. Ctrl+C stops it.
    """
    plan_day(
        ctx,
        day,
        time_limit_s=time_limit,
        publish_it=publish_it,
        replan=replan,
        reason="fieldops plan-day",
    )


def plan_day(
    ctx: click.Context,
    day: date,
    *,
    time_limit_s: int,
    publish_it: bool,
    replan: bool = False,
    reason: str,
) -> None:
    """Run, propose and (if asked) publish a plan of ``day`` in the foreground, printing progress."""
    sessions = database(ctx).extensions[SESSIONS_KEY]
    time_limit = time_limit_s
    try:
        with transaction(ctx) as session:
            run = request_run(
                session,
                day,
                time_limit_s=time_limit,
                requested_by=None,
                reason=reason,
                replan=replan,
            )
    except RunInProgress as exc:
        raise InputError(f"{exc}; wait for it or cancel it") from None
    click.echo(f"Run {run.id} plans {day} for {time_limit} s.")
    stop = threading.Event()
    handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    stop_on_signals(stop)
    try:
        state = execute_run(sessions, run.id, should_stop=stop.is_set, on_progress=_echo_progress)
        if state is None:  # a worker (fieldops serve's, say) claimed it first: follow it there
            state = wait_for_run(sessions, run.id, on_progress=_echo_progress).state
    finally:  # Ctrl+C means what it meant before (a demo serves next)
        signal.signal(signal.SIGINT, handlers[0])
        signal.signal(signal.SIGTERM, handlers[1])
    with transaction(ctx) as session:
        run = session.get_one(type(run), run.id)
        plan = session.scalar(select(Plan).where(Plan.run_id == run.id))
        if state != RunState.SUCCEEDED or plan is None:
            raise EnvironmentFailure(f"run {run.id} {run.state}: {run.error or 'no plan'}")
        _echo_proposal(plan)
        if publish_it:
            try:
                publish(session, plan.id, user_id=None)
            except (StalePlan, ProposalClosed) as exc:
                raise EnvironmentFailure(f"proposal {plan.id} was not published: {exc}") from None
    if publish_it:
        click.echo(f"Published proposal {plan.id} as version {plan.version} of {day}.")
    else:
        click.echo(f"Proposal {plan.id} waits to be published.")


def _echo_progress(progress: Progress) -> None:
    click.echo(
        f"  {progress.elapsed_s:6.1f} s  score {progress.score:,.1f}, {progress.served} jobs served"
    )


def _echo_proposal(plan: Plan) -> None:
    figures, diff = plan.summary, plan.diff
    served = sum(figures["served"].values())
    total = served + sum(figures["unserved"].values())
    click.echo(
        f"Proposal {plan.id}: {served} of {total} jobs served, travel"
        f" {figures['travel_minutes']:,.1f} min, late {figures['late_minutes']:,.1f} min,"
        f" score {figures['score']:,.1f}"
    )
    if plan.base_version:
        click.echo(
            f"  against version {plan.base_version}: {len(diff['added'])} added,"
            f" {len(diff['removed'])} removed, {len(diff['moved'])} moved,"
            f" {len(diff['resequenced'])} routes re-sequenced"
        )


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
