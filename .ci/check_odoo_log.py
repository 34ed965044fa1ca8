"""Judge an Odoo test run from its log, for .ci/run.

Odoo's exit code alone misses problems: an install that logs errors or warnings still
exits 0, and a run where no test was collected exits 0 too. This script reads the log of
`odoo -i odoo_ha_addon --test-tags /odoo_ha_addon --stop-after-init` and fails on:

- any ERROR or CRITICAL record, or a `FAIL:` line (a failed test);
- any WARNING record not in ALLOWED_WARNINGS below (the addon must install warning-free);
- a missing or non-zero "N failed, M error(s) of T tests" summary, or T == 0;
- no sign that odoo_ha_addon was loaded at all.

It prints the offending records and, last, a plain closing line
`odoo: P passed, F failed, S skipped` (test counts from Odoo's summary; a log problem
fails the tier even when no test failed). Exit status 0 only when the log is clean.

Usage: python check_odoo_log.py LOGFILE [ODOO_EXIT_CODE]
"""

import re
import sys

MODULE = "odoo_ha_addon"

# One Odoo log record: "2024-01-01 12:00:00,123 4242 WARNING dbname logger.name: message".
RECORD_RE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \d+ (?P<level>[A-Z]+) (?P<db>\S+) "
    r"(?P<logger>[^\s:]+): (?P<message>.*)$"
)
# Logged by Odoo's server at the end of a --stop-after-init run with tests enabled.
SUMMARY_RE = re.compile(
    r"(?P<failed>\d+) failed, (?P<errors>\d+) error\(s\) of (?P<total>\d+) tests"
)
# OdooTestResult.addSkip: "skipped <test description> : <reason>".
SKIP_RE = re.compile(r"^skipped (?P<test>.+?) : (?P<reason>.*)$")
LOADED_RE = re.compile(rf"Loading module {MODULE} \(")

# Warnings that Odoo core emits on a plain install/test run of this addon's dependencies
# and that say nothing about the addon. Each entry: (logger regex, message regex, why it
# is harmless). Keep this list short; never add a warning the addon itself causes.
ALLOWED_WARNINGS = [
    (
        r"^odoo\.tests\.result$",
        r"^0 failed, 0 error\(s\) of 0 tests when loading database",
        "Odoo logs the empty-run summary as a warning; the zero-test case is failed "
        "separately below with a clearer message.",
    ),
    (
        r"^py\.warnings$",
        r"babel/messages/extract\.py:\d+: UserWarning: pkg_resources is deprecated as an API",
        "Babel (Odoo's translation export, run by the translation tests) imports "
        "pkg_resources; setuptools >= 67 warns about it. The Odoo-tier virtualenv needs such a "
        "setuptools for gevent (see .ci/odoo-test-requirements.txt).",
    ),
]


def parse_records(lines):
    """Group log lines into (level, logger, first_line, continuation_lines) records."""
    records = []
    for raw_line in lines:
        line = raw_line.rstrip("\n")
        match = RECORD_RE.match(line)
        if match:
            records.append([match["level"], match["logger"], match["message"], []])
        elif records:
            records[-1][3].append(line)
        else:
            records.append(["", "", line, []])
    return records


def is_allowed_warning(logger, message):
    return any(
        re.search(logger_re, logger) and re.search(message_re, message)
        for logger_re, message_re, _why in ALLOWED_WARNINGS
    )


def format_record(record, max_lines=40):
    level, logger, message, extra = record
    text = [f"  {level} {logger}: {message}"]
    text += [f"    {line}" for line in extra[:max_lines]]
    if len(extra) > max_lines:
        text.append(f"    ... ({len(extra) - max_lines} more lines)")
    return "\n".join(text)


def log_problems(records, exit_code):
    """Everything in the log, besides the test counts, that fails the tier."""
    problems = []
    errors = [r for r in records if r[0] in ("ERROR", "CRITICAL")]
    warnings = [r for r in records if r[0] == "WARNING" and not is_allowed_warning(r[1], r[2])]
    fail_lines = [
        line for r in records for line in [r[2], *r[3]] if line.lstrip().startswith("FAIL:")
    ]
    if exit_code != 0:
        problems.append(f"Odoo exited with status {exit_code}.")
    if errors:
        problems.append(f"{len(errors)} ERROR/CRITICAL record(s):")
        problems.extend(format_record(r) for r in errors)
    if fail_lines and not errors:
        problems.append("FAIL lines:")
        problems.extend(f"  {line}" for line in fail_lines)
    if warnings:
        problems.append(f"{len(warnings)} WARNING record(s) (the install must be warning-free):")
        problems.extend(format_record(r) for r in warnings)
    if not any(LOADED_RE.search(r[2]) for r in records):
        problems.append(f"The log never shows '{MODULE}' being loaded.")
    return problems


def summary_counts(records, skipped, problems):
    """(passed, failed) from Odoo's last summary line; adds to problems when it is bad."""
    summaries = [m for r in records if (m := SUMMARY_RE.search(r[2]))]
    if not summaries:
        problems.append("No Odoo test summary ('N failed, M error(s) of T tests') in the log.")
        return 0, 0
    summary = summaries[-1]
    total = int(summary["total"])
    failed = int(summary["failed"]) + int(summary["errors"])
    if failed:
        problems.append(f"Odoo reports {summary.group(0)}.")
    if total == 0:
        problems.append(f"No Odoo test ran for /{MODULE}.")
    return max(total - failed - skipped, 0), failed


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8", errors="replace") as log_file:
        records = parse_records(log_file)
    exit_code = int(argv[2]) if len(argv) > 2 else 0

    skipped = [m for r in records if (m := SKIP_RE.match(r[2]))]
    problems = log_problems(records, exit_code)
    passed, failed = summary_counts(records, len(skipped), problems)

    if skipped:
        print(f"Skipped Odoo tests ({len(skipped)}):")
        for match in skipped:
            print(f"  {match['test']}: {match['reason']}")
    if problems:
        print("Odoo tier FAILED:")
        print("\n".join(problems))
    print(f"odoo: {passed} passed, {failed} failed, {len(skipped)} skipped")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
