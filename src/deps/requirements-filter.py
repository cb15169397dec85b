# Passes plain PEP 508 requirements from stdin to stdout and refuses anything else (pip options,
# direct URLs, unparseable lines): the input was written while project code ran.
import sys

from packaging.requirements import InvalidRequirement, Requirement

for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    try:
        requirement = Requirement(line)
    except InvalidRequirement as e:
        sys.exit(f"repro: refusing build requirement {line!r}: {e}")
    if requirement.url:
        sys.exit(f"repro: refusing build requirement {line!r}: a direct URL has no digest to verify")
    print(requirement)
