"""`fulfill ingest`: NDJSON and CSV, stdin, duplicates, one error line per bad line on
stderr with the good lines unaffected, the summary line, bounded memory."""
import json
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_helpers import load_programs, ndjson, participant  # noqa: E402
from fulfilltest import BIN, FulfillTest  # noqa: E402

SUMMARY = re.compile(r"^accepted (\d+), duplicate (\d+), rejected (\d+)$")


def summary(r):
    last = r.stdout.strip().splitlines()[-1]
    m = SUMMARY.match(last)
    assert m, f"no summary line in {r.stdout!r}"
    return tuple(int(x) for x in m.groups())


def error_lines(r):
    """{line number: text} of the `line N: ...` messages on stderr."""
    out = {}
    for ln in r.stderr.splitlines():
        m = re.match(r"^line (\d+): (.*)$", ln)
        if m:
            out[int(m.group(1))] = m.group(2)
    return out


class IngestNdjson(FulfillTest):
    def setUp(self):
        super().setUp()
        load_programs(self.env, "give20get20")

    def test_good_file(self):
        p = self.env.write("ok.ndjson", ndjson(participant("p1"), participant("p2")))
        r = self.env.cli("ingest", p)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "accepted 2, duplicate 0, rejected 0\n")
        self.assertNotIn("\r", r.stderr)  # no progress bar when stderr is not a terminal
        self.assertEqual(self.env.cli_json("participants", "show", "p1")["id"], "p1")

    def test_json_summary(self):
        p = self.env.write("ok.ndjson", ndjson(participant("p1")))
        out = self.env.cli_json("ingest", p)
        self.assertEqual(out, {"accepted": 1, "duplicate": 0, "rejected": 0})

    def test_reingest_is_duplicate(self):
        p = self.env.write("ok.ndjson", ndjson(participant("p1"), participant("p2")))
        self.env.cli("ingest", p, check=True)
        r = self.env.cli("ingest", p)
        self.assertEqual(r.returncode, 0)
        self.assertEqual(summary(r), (0, 2, 0))

    def test_stdin(self):
        r = self.env.cli("ingest", "-", input=ndjson(participant("p1"), participant("p2")))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(summary(r), (2, 0, 0))

    def test_byte_order_mark(self):
        p = os.path.join(self.env.dir, "bom.ndjson")
        with open(p, "wb") as f:
            f.write(b"\xef\xbb\xbf" + ndjson(participant("p1"), participant("p2")).encode())
        r = self.env.cli("ingest", p)
        self.assertEqual(summary(r), (2, 0, 0), r.stderr)

    def test_byte_order_mark_alone_on_the_first_line(self):
        # an editor that saves a UTF-8 mark, then the events from line 2: the first
        # line is blank once the mark is gone
        p = os.path.join(self.env.dir, "bom-line.ndjson")
        with open(p, "wb") as f:
            f.write(b"\xef\xbb\xbf\r\n" + ndjson(participant("p1"), participant("p2")).encode())
        r = self.env.cli("ingest", p)
        self.assertEqual(r.stderr, "")
        self.assertEqual(summary(r), (2, 0, 0))

    def test_blank_lines_and_crlf(self):
        text = json.dumps(participant("p1")) + "\r\n\r\n   \n" + json.dumps(participant("p2"))  # no final newline
        p = self.env.write("crlf.ndjson", text)
        r = self.env.cli("ingest", p)
        self.assertEqual(summary(r), (2, 0, 0), r.stderr)

    def test_bad_lines_each_reported_good_lines_unaffected(self):
        good_conv = {"id": "evt_c1", "type": "conversion", "occurred_at": "2026-10-02T12:00:00Z",
                     "data": {"id": "ord_1", "participant": "p1", "amount": 7500, "currency": "USD"}}
        lines = [
            participant("p1"),                                                    # 1 ok
            '{"id": "evt_bad", "type": "participant", oops',                      # 2 malformed
            dict(participant("p9", eid="evt_uf"), extra=1),                        # 3 unknown field
            {"id": "evt_wt", "type": "conversion",                                # 4 wrong type
             "data": {"id": "o_wt", "participant": "p1", "amount": "75", "currency": "USD"}},
            {"id": "evt_cur", "type": "conversion",                               # 5 unknown currency
             "data": {"id": "o_cur", "participant": "p1", "amount": 100, "currency": "ZZZ"}},
            {"id": "evt_neg", "type": "conversion",                               # 6 negative amount
             "data": {"id": "o_neg", "participant": "p1", "amount": -5, "currency": "USD"}},
            '{"id": "evt_big", "type": "conversion", "data": {"id": "o_big", "participant": "p1", '
            '"amount": 99999999999999999999999, "currency": "USD"}}',             # 7 overflowing amount
            {"id": "evt_huge", "type": "conversion",                              # 8 above MONEY_MAX
             "data": {"id": "o_huge", "participant": "p1", "amount": 10**16, "currency": "USD"}},
            {"id": "evt_np", "type": "conversion",                                # 9 unknown participant
             "data": {"id": "o_np", "participant": "nobody", "amount": 100, "currency": "USD"}},
            {"id": "evt_nprog", "type": "referral",                               # 10 unknown program
             "data": {"id": "r_np", "program": "nope", "referrer": "p1", "referred": "p2"}},
            {"id": "evt_nconv", "type": "refund",                                 # 11 unknown conversion
             "data": {"conversion": "ord_nope", "amount": 100, "reason": "refund"}},
            good_conv,                                                            # 12 ok
            participant("p3"),                                                    # 13 ok
        ]
        text = ndjson(*lines)
        raw = text.encode() + b'{"id": "evt_utf", "type": "participant", "data": {"id": "p\xff\xfe"}}\n'  # 14
        raw += ndjson(participant("p4")).encode()                                 # 15 ok
        p = os.path.join(self.env.dir, "mixed.ndjson")
        with open(p, "wb") as f:
            f.write(raw)
        r = self.env.cli("ingest", p)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(summary(r), (4, 0, 11), r.stderr)
        errs = error_lines(r)
        self.assertEqual(sorted(errs), [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 14], r.stderr)
        self.assertTrue(errs[2].startswith("malformed_json: "), errs[2])
        self.assertTrue(errs[3].startswith("unknown_field: "), errs[3])
        self.assertIn("(extra)", errs[3])
        self.assertIn("(data.amount)", errs[4])
        self.assertTrue(errs[5].startswith("invalid_currency: "), errs[5])
        self.assertIn("(data.currency)", errs[5])
        self.assertTrue(errs[6].startswith("invalid_amount: "), errs[6])
        self.assertIn("(data.amount)", errs[8])
        self.assertTrue(errs[9].startswith("not_found: "), errs[9])
        self.assertIn("(data.participant)", errs[9])
        self.assertTrue(errs[10].startswith("not_found: "), errs[10])
        self.assertIn("(data.program)", errs[10])
        self.assertTrue(errs[11].startswith("not_found: "), errs[11])
        self.assertIn("(data.conversion)", errs[11])
        self.assertRegex(errs[14], r"^(invalid_utf8|malformed_json): ")
        # every error line has the documented shape
        for n, text in errs.items():
            self.assertRegex(text, r"^[a-z0-9_]+: .+", n)
        # the good lines went in
        for pid in ("p1", "p3", "p4"):
            self.assertEqual(self.env.cli_json("participants", "show", pid)["id"], pid)
        conv = self.env.cli("explain", "ord_1")
        self.assertEqual(conv.returncode, 0, conv.stderr)

    def test_ten_megabyte_line(self):
        big = '{"id": "evt_10mb", "type": "participant", "data": {"id": "x", "name": "' + "a" * (10 * 1000 * 1000)
        p = self.env.write("big.ndjson", ndjson(participant("p1"), big, participant("p2")))
        r = self.env.cli("ingest", p)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(summary(r), (2, 0, 1))
        self.assertEqual(sorted(error_lines(r)), [2])

    def test_line_over_16_mib_is_too_large(self):
        p = os.path.join(self.env.dir, "huge.ndjson")
        with open(p, "w") as f:
            f.write(ndjson(participant("p1")))
            f.write('{"id": "evt_huge", "type": "participant", "data": {"id": "x", "name": "')
            chunk = "b" * (1 << 20)
            for _ in range(17):
                f.write(chunk)
            f.write('"}}\n')
            f.write(ndjson(participant("p2")))
        r = self.env.cli("ingest", p)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(summary(r), (2, 0, 1))
        errs = error_lines(r)
        self.assertEqual(list(errs), [2])
        self.assertTrue(errs[2].startswith("too_large: "), errs[2])

    def test_memory_stays_bounded(self):
        # a 160 MiB line is skipped, not held: the process stays well below its size
        # (even under AddressSanitizer, whose shadow memory and quarantine cost extra)
        p = os.path.join(self.env.dir, "giant.ndjson")
        with open(p, "w") as f:
            f.write('{"id": "evt_giant", "data": "')
            chunk = "c" * (1 << 20)
            for _ in range(160):
                f.write(chunk)
            f.write('"}\n')
            f.write(ndjson(participant("p1")))
        probe = ("import resource, subprocess, sys\n"
                 "r = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
                 "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
                 "print(r.stdout, end='')\n")
        out = subprocess.run([sys.executable, "-c", probe, BIN, "ingest", p], env=self.env.env,
                             capture_output=True, text=True, timeout=120).stdout.splitlines()
        rc, maxrss_kb = (int(x) for x in out[0].split())
        self.assertEqual(rc, 0)
        self.assertEqual(out[-1], "accepted 1, duplicate 0, rejected 1")
        self.assertLess(maxrss_kb, 96 * 1024, "ingest held the long line in memory")

    def test_many_events_in_chunks(self):
        n = 1234  # several chunks of 500
        p = self.env.write("many.ndjson", ndjson(*(participant(f"m{i}") for i in range(n))))
        r = self.env.cli("ingest", p)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(summary(r), (n, 0, 0))
        listed = self.env.cli_json("participants", "list", "--limit", "1000")
        self.assertEqual(len(listed["data"]), 1000)
        self.assertTrue(listed["has_more"])

    def test_unreadable_file(self):
        r = self.env.cli("ingest", os.path.join(self.env.dir, "missing.ndjson"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot read", r.stderr)
        r = self.env.cli("ingest", self.env.dir)
        self.assertEqual(r.returncode, 1)


class IngestCsv(FulfillTest):
    def setUp(self):
        super().setUp()
        load_programs(self.env, "give20get20")

    def test_participants_with_bom_and_quotes(self):
        text = ("\ufeffid,type,participant_id,email,name,country,currency,status,attributes.note\r\n"
                'e1,participant,c1,c1@example.com,"Smith, Anna",US,USD,active,\r\n'
                'e2,participant,c2,c2@example.com,"Bob ""The Builder"" Jones",US,USD,active,\r\n'
                'e3,participant,c3,,Chen,GB,GBP,,"two\nlines, one cell"\r\n')
        p = self.env.write("people.csv", text)
        r = self.env.cli("ingest", p)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "accepted 3, duplicate 0, rejected 0\n", r.stderr)
        self.assertEqual(self.env.cli_json("participants", "show", "c1")["name"], "Smith, Anna")
        self.assertEqual(self.env.cli_json("participants", "show", "c2")["name"], 'Bob "The Builder" Jones')
        c3 = self.env.cli_json("participants", "show", "c3")
        self.assertEqual(c3["attributes"], {"note": "two\nlines, one cell"})
        self.assertEqual(c3["country"], "GB")
        self.assertNotIn("email", {k for k, v in c3.items() if v})  # empty cells are omitted

    def test_referrals_and_conversions(self):
        people = ("id,type,participant_id,email,country,currency\n"
                  "e1,participant,jo,jo@example.com,US,USD\n"
                  "e2,participant,kim,kim@example.com,US,USD\n")
        self.env.cli("ingest", self.env.write("p.csv", people), check=True)
        refs = ("id,type,occurred_at,referral_id,program,referrer,referred,code,source\n"
                "e3,referral,2026-10-01T09:00:00Z,r1,give20get20,jo,kim,JO20,email\n")
        self.assertEqual(summary(self.env.cli("ingest", self.env.write("r.csv", refs))), (1, 0, 0))
        convs = ("id,type,occurred_at,conversion_id,participant,amount,currency,category,product\n"
                 "e4,conversion,2026-10-02T12:00:00Z,o1,kim,7500,USD,shoes,\n"
                 "e5,conversion,2026-10-03T12:00:00Z,o2,kim,12.50,USD,shoes,\n"
                 "e6,conversion,2026-10-03T12:00:00Z,o3,kim,1,USD\n")
        r = self.env.cli("ingest", self.env.write("c.csv", convs))
        self.assertEqual(r.returncode, 0)
        self.assertEqual(summary(r), (1, 0, 2), r.stderr)
        errs = error_lines(r)
        self.assertIn("(data.amount)", errs[3])
        self.assertTrue(errs[3].startswith("invalid_amount: "), errs[3])  # as in NDJSON
        self.assertTrue(errs[4].startswith("malformed_csv: "), errs[4])
        rewards = self.env.cli_json("rewards", "list", "--program", "give20get20")["data"]
        self.assertEqual(sorted(x["role"] for x in rewards), ["referred", "referrer"])

    def test_format_flag_and_stdin(self):
        text = "id,type,participant_id,country,currency\ne1,participant,s1,US,USD\n"
        r = self.env.cli("ingest", "-", "--format", "csv", input=text)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(summary(r), (1, 0, 0))
        p = self.env.write("people.txt", text)  # extension says nothing: --format decides
        r = self.env.cli("ingest", p, "--format", "csv")
        self.assertEqual(summary(r), (0, 1, 0))

    def test_unknown_column_is_rejected_per_row(self):
        text = "id,type,participant_id,shoe_size\ne1,participant,s1,44\n"
        r = self.env.cli("ingest", self.env.write("x.csv", text))
        self.assertEqual(r.returncode, 0)
        self.assertEqual(summary(r), (0, 0, 1))
        self.assertIn("unknown_field", error_lines(r)[2])

    def test_attribute_column_beside_the_field_of_the_same_name(self):
        # attributes.category is data.attributes.category, not a second data.category
        people = "id,type,participant_id,country,currency\ne1,participant,kim,US,USD\n"
        self.env.cli("ingest", self.env.write("p.csv", people), check=True)
        convs = ("id,type,conversion_id,participant,amount,currency,attributes.category,category\n"
                 "e2,conversion,o1,kim,7500,USD,footwear,shoes\n")
        r = self.env.cli("ingest", self.env.write("c.csv", convs))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(summary(r), (1, 0, 0), r.stderr)

    def test_header_repeating_a_column(self):
        r = self.env.cli("ingest", self.env.write("x.csv", "id,type,participant_id,name, name\n"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("column 'name' appears twice in the header", r.stderr)

    def test_header_without_id_or_type(self):
        r = self.env.cli("ingest", self.env.write("x.csv", "name,email\na,b\n"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("header", r.stderr)


if __name__ == "__main__":
    unittest.main()
