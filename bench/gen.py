#!/usr/bin/env python3
"""gen.py - event files for the fulfill ingest benchmark (bench/run).

Writes two NDJSON files into OUTDIR:
  setup.ndjson        REFERRERS participant events, then one referral event per
                      referred person (REFERRERS * PER_REFERRER of them; a referral
                      names an unknown `referred` id, so fulfill creates that person)
  conversions.ndjson  one conversion per referred person, in an interleaved order
                      (referrer 0's 1st, referrer 1's 1st, ...) so consecutive events
                      touch different referrers, as real traffic does

Each conversion (amount 5000 USD) passes bench/program.json's eligibility
(amount >= 1000) and earns two rewards: 2000 to the referrer and 2000 to the referred.
A referrer's k-th referral occurred k days after 2025-01-01, so the default fraud
checks run but the velocity signal (more than 20 referrals by one referrer in 24
hours) never sends the rewards to review: every reward is approved at once.

usage: gen.py OUTDIR [REFERRERS [PER_REFERRER]]   (defaults 1000 and 100)
"""
import datetime
import json
import os
import sys

START = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    referrers = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    per = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    os.makedirs(out, exist_ok=True)
    dumps = json.JSONEncoder(separators=(",", ":")).encode

    with open(os.path.join(out, "setup.ndjson"), "w") as f:
        for r in range(referrers):
            f.write(dumps({"id": f"evt_p_{r:06d}", "type": "participant",
                           "data": {"id": f"r{r:06d}", "email": f"r{r:06d}@example.com",
                                    "country": "US", "currency": "USD"}}) + "\n")
        for r in range(referrers):
            for k in range(per):
                n = r * per + k
                at = START + datetime.timedelta(days=k, seconds=r)
                f.write(dumps({"id": f"evt_r_{n:07d}", "type": "referral",
                               "occurred_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                               "data": {"id": f"ref_{n:07d}", "program": "bench",
                                        "referrer": f"r{r:06d}", "referred": f"u{n:07d}",
                                        "source": "email"}}) + "\n")

    with open(os.path.join(out, "conversions.ndjson"), "w") as f:
        for k in range(per):
            for r in range(referrers):
                n = r * per + k
                f.write(dumps({"id": f"evt_c_{n:07d}", "type": "conversion",
                               "data": {"id": f"ord_{n:07d}", "participant": f"u{n:07d}",
                                        "amount": 5000, "currency": "USD",
                                        "category": "shoes"}}) + "\n")


if __name__ == "__main__":
    main()
