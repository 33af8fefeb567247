"""Parses a Prometheus text exposition (file named by argv[1]) with prometheus_client's own
parser and prints its families and samples as JSON, for tests/metrics.rs to check.

The parser raises on malformed input (bad escapes, bad values, samples outside their
family), so a zero exit status already says the exposition parses."""

import json
import math
import sys

from prometheus_client.parser import text_string_to_metric_families


def value(v):
    return v if math.isfinite(v) else str(v)


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        text = f.read()
    families = []
    for family in text_string_to_metric_families(text):
        families.append(
            {
                "name": family.name,
                "type": family.type,
                "samples": [
                    {"name": s.name, "labels": s.labels, "value": value(s.value)}
                    for s in family.samples
                ],
            }
        )
    print(json.dumps({"families": families}))
    print("PROM_PARSE_OK", file=sys.stderr)


if __name__ == "__main__":
    main()
