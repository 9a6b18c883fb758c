"""Reads gzfleet /metrics endpoints with the Prometheus project's own Python parsers.

Usage: parse_metrics.py URL FAMILY[:TYPE] ... [-- URL FAMILY[:TYPE] ...]

For each URL it fetches the classic text format (no Accept header) and parses it with
prometheus_client.parser, then OpenMetrics (as Prometheus asks for it) and parses it
with prometheus_client.openmetrics.parser; either parser raising, or a FAMILY missing
or of another TYPE, fails. Prints each family as NAME TYPE SAMPLES, one a line.
"""

import sys
import urllib.request

from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families as parse_classic

OPENMETRICS = "application/openmetrics-text; version=1.0.0"


def fetch(url, accept=None):
    request = urllib.request.Request(url)
    if accept:
        request.add_header("Accept", accept)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.headers.get("Content-Type", ""), response.read().decode()


def check(url, wanted):
    ctype, classic = fetch(url)
    assert ctype.startswith("text/plain; version=0.0.4"), ctype
    families = {f.name: f for f in parse_classic(classic)}
    ctype, text = fetch(url, OPENMETRICS)
    assert ctype.startswith("application/openmetrics-text"), ctype
    open_families = {f.name: f for f in parse_openmetrics(text)}
    for want in wanted:
        name, _, typ = want.partition(":")
        for kind, found in (("classic", families), ("openmetrics", open_families)):
            assert name in found, f"{url}: no {name} in the {kind} text: {sorted(found)}"
            assert not typ or found[name].type == typ, (
                f"{url}: {name} is a {found[name].type} in the {kind} text, not a {typ}"
            )
    for f in families.values():
        assert f.type != "unknown", f"{url}: {f.name} has no type in the classic text"
        print(url, f.name, f.type, len(f.samples))


def main(args):
    groups, group = [], []
    for arg in args:
        if arg == "--":
            groups.append(group)
            group = []
        else:
            group.append(arg)
    groups.append(group)
    for url, *wanted in groups:
        check(url, wanted)


if __name__ == "__main__":
    main(sys.argv[1:])
