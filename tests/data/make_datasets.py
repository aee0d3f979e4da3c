#!/usr/bin/env python3
"""Writes (or, with --check, verifies) tests/data/arith50.jsonl and
tests/data/choice10.jsonl, the small scored datasets of issue 11.

Each question is a template whose numbers are named arguments; the same
arguments fill the text and compute the answer in exact rational arithmetic
(fractions.Fraction), so the written answer is the value of the question as
worded.  The answer's written form (plain, thousands commas, decimal,
fraction, negative) is chosen per question to exercise the NUMBER rules of
docs/metrics.md.  Run from the repository root:

    python3 tests/data/make_datasets.py          # rewrite both files
    python3 tests/data/make_datasets.py --check  # fail unless they match

A maintenance script: the build and the tests never run it (tests/test_answer.c
checks the files' shape and that every answer normalises as a number).
"""
import json
import sys
from fractions import Fraction as F
from pathlib import Path

HERE = Path(__file__).resolve().parent


def fmt(v, style):
    """The answer text of the exact value v in the given written style."""
    v = F(v)
    if style == "frac":
        assert v.denominator != 1, v
        return f"{v.numerator}/{v.denominator}"
    if style in ("dec", "money"):
        # a terminating decimal, exactly v: the fewest places ("dec") or at
        # least two ("money": "6.50")
        q = v.denominator
        while q % 2 == 0:
            q //= 2
        while q % 5 == 0:
            q //= 5
        assert q == 1, f"{v} does not terminate"
        places = 2 if style == "money" else 1
        while (v * 10**places).denominator != 1:
            places += 1
        scaled = abs(v) * 10**places
        s = f"{scaled.numerator // 10**places}.{scaled.numerator % 10**places:0{places}d}"
        assert F(s) == abs(v)
        return ("-" if v < 0 else "") + s
    assert v.denominator == 1, f"{v} is not an integer"
    n = v.numerator
    if style == "comma":
        assert abs(n) >= 1000
        return f"{n:,}"
    assert style == "int"
    return str(n)


# (template, named values, answer function, written style).  A value is an
# int or a string as the question writes it ("12.75", "3/4", "2,500"); the answer
# function gets each as a Fraction.
ARITH = [
    ("Mia has {a} apples and buys {b} more. How many apples does she have now?",
     dict(a=12, b=30), lambda a, b: a + b, "int"),
    ("A bus holds {a} passengers. {b} get off at the first stop. How many passengers remain?",
     dict(a=48, b=17), lambda a, b: a - b, "int"),
    ("A box holds {a} pencils. How many pencils are in {b} boxes?",
     dict(a=24, b=15), lambda a, b: a * b, "int"),
    ("{a} cookies are shared equally among {b} children. How many cookies does each child get?",
     dict(a=96, b=8), lambda a, b: a / b, "int"),
    ("A factory makes {a} bolts per hour and runs {b} hours a day. How many bolts does it make in a day?",
     dict(a=125, b=10), lambda a, b: a * b, "comma"),
    ("Tom earns ${a} per hour and works {b} hours. How many dollars does he earn?",
     dict(a="12.75", b=6), lambda a, b: a * b, "money"),
    ("The temperature at noon is {a} degrees. By midnight it has dropped {b} degrees. What is the temperature at midnight, in degrees?",
     dict(a=5, b=12), lambda a, b: a - b, "int"),
    ("A pizza is cut into {a} equal slices and Ana eats {b} of them. What fraction of the pizza did she eat?",
     dict(a=8, b=6), lambda a, b: b / a, "frac"),
    ("A school has {a} classes with {b} students each. How many students are there in all?",
     dict(a=42, b=30), lambda a, b: a * b, "comma"),
    ("A rope {a} meters long is cut into pieces of {b} meters each. How many pieces are there?",
     dict(a=63, b=7), lambda a, b: a / b, "int"),
    ("Sara reads {a} pages a day. How many pages does she read in {b} weeks?",
     dict(a=15, b=3), lambda a, b: a * b * 7, "int"),
    ("A shirt costs ${a}. It is on sale for {b} percent off. What is the sale price in dollars?",
     dict(a=40, b=25), lambda a, b: a * (100 - b) / 100, "money"),
    ("A submarine is at {a} meters below sea level and rises {b} meters. What is its elevation relative to sea level, in meters?",
     dict(a=150, b=80), lambda a, b: -a + b, "int"),
    ("Leo has {a} marbles. He gives {b} to his sister and then buys {c} more. How many marbles does he have?",
     dict(a=55, b=18, c=9), lambda a, b, c: a - b + c, "int"),
    ("A train travels at {a} kilometers per hour for {b} hours. How many kilometers does it travel?",
     dict(a=85, b=4), lambda a, b: a * b, "int"),
    ("A tank holds {a} liters. It is filled at {b} liters per minute. How many minutes does it take to fill the empty tank?",
     dict(a=360, b=12), lambda a, b: a / b, "int"),
    ("Notebooks cost ${a} each. How many dollars do {b} notebooks cost?",
     dict(a="3.50", b=7), lambda a, b: a * b, "money"),
    ("A farmer has {a} rows of corn with {b} plants in each row. How many corn plants does he have?",
     dict(a=125, b=48), lambda a, b: a * b, "comma"),
    ("Jen had ${a} in her account and spent ${b}. How many dollars are left in her account? (A negative number means she is overdrawn.)",
     dict(a=120, b=145), lambda a, b: a - b, "int"),
    ("What is {a} divided by {b}, written as a fraction in lowest terms?",
     dict(a=10, b=15), lambda a, b: a / b, "frac"),
    ("A garden is {a} meters long and {b} meters wide. What is its area in square meters?",
     dict(a=18, b=12), lambda a, b: a * b, "int"),
    ("A rectangle is {a} centimeters long and {b} centimeters wide. What is its perimeter in centimeters?",
     dict(a=23, b=9), lambda a, b: 2 * (a + b), "int"),
    ("Eggs come in cartons of {a}. How many cartons are needed for {b} eggs?",
     dict(a=12, b=144), lambda a, b: b / a, "int"),
    ("A city had {a} people. The population grew by {b} people. What is the new population?",
     dict(a="1,234,567", b="8,433"), lambda a, b: a + b, "comma"),
    ("A runner runs {a} kilometers each day for {b} days. How many kilometers does she run in total?",
     dict(a="2.5", b=6), lambda a, b: a * b, "int"),
    ("Three friends split a bill of ${a} equally. How many dollars does each pay?",
     dict(a="43.50"), lambda a: a / 3, "money"),
    ("A diver is at {a} meters below the surface and goes down another {b} meters. What is the diver's position relative to the surface, in meters?",
     dict(a=12, b=9), lambda a, b: -a - b, "int"),
    ("A recipe uses {a} cups of flour per batch. How many cups are needed for {b} batches?",
     dict(a="3/4", b=6), lambda a, b: a * b, "dec"),
    ("A store sold {a} toys on Monday and twice as many on Tuesday. How many toys did it sell on both days together?",
     dict(a=37), lambda a: a + 2 * a, "int"),
    ("There are {a} students and {b} of them are girls. How many are boys?",
     dict(a=312, b=167), lambda a, b: a - b, "int"),
    ("A car uses {a} liters of fuel per 100 kilometers. How many liters does it use for {b} kilometers?",
     dict(a=8, b=350), lambda a, b: a * b / 100, "int"),
    ("A library has {a} shelves with {b} books each. It gives away {c} books. How many books are left?",
     dict(a=40, b=35, c=275), lambda a, b, c: a * b - c, "comma"),
    ("Kim buys {a} pens at ${b} each and pays with a $20 bill. How many dollars of change does she get?",
     dict(a=3, b="4.50"), lambda a, b: 20 - a * b, "money"),
    ("A clock gains {a} seconds every hour. How many seconds does it gain in {b} days?",
     dict(a=4, b=3), lambda a, b: a * 24 * b, "int"),
    ("Out of {a} marbles, {b} are red. What fraction of the marbles are red, in lowest terms?",
     dict(a=27, b=9), lambda a, b: b / a, "frac"),
    ("What is {a} minus {b}?",
     dict(a=250, b=1000), lambda a, b: a - b, "int"),
    ("A worker packs {a} boxes per hour. How many hours does it take to pack {b} boxes?",
     dict(a=45, b=630), lambda a, b: b / a, "int"),
    ("A field trip costs ${a} per student. How many dollars does it cost for {b} students?",
     dict(a=35, b=120), lambda a, b: a * b, "comma"),
    ("Milk costs ${a} per liter. How many dollars do {b} liters cost?",
     dict(a="1.25", b=9), lambda a, b: a * b, "money"),
    ("A plane climbs {a} meters per minute for {b} minutes, starting at {c} meters. How high is it, in meters?",
     dict(a=450, b=12, c=300), lambda a, b, c: c + a * b, "comma"),
    ("The sum of two numbers is {a}. One of them is {b}. What is the other?",
     dict(a=91, b=57), lambda a, b: a - b, "int"),
    ("A bag of {a} candies is split evenly into {b} bags. How many candies are in each bag?",
     dict(a=252, b=9), lambda a, b: a / b, "int"),
    ("A lake's surface is at {a} meters below sea level. A hill beside it is {b} meters higher than the lake's surface. What is the hill's elevation relative to sea level, in meters?",
     dict(a=30, b=22), lambda a, b: -a + b, "int"),
    ("A cyclist rides {a} kilometers in {b} hours. What is her average speed in kilometers per hour?",
     dict(a=54, b=4), lambda a, b: a / b, "dec"),
    ("Ben saves ${a} every week. How many dollars has he saved after {b} weeks?",
     dict(a=25, b=52), lambda a, b: a * b, "comma"),
    ("A parking lot has {a} rows of {b} spaces. {c} spaces are taken. How many are free?",
     dict(a=14, b=22, c=187), lambda a, b, c: a * b - c, "int"),
    ("What is {a} times {b}?",
     dict(a=-7, b=8), lambda a, b: a * b, "int"),
    ("A tree grows {a} centimeters each year. How many centimeters does it grow in {b} years?",
     dict(a="1.5", b=9), lambda a, b: a * b, "dec"),
    ("An auditorium has {a} seats. {b} tickets were sold. How many seats are empty?",
     dict(a="2,500", b="1,875"), lambda a, b: a - b, "int"),
    ("A company has {a} employees. Each gets a bonus of ${b}. How many dollars is the total bonus?",
     dict(a=86, b=750), lambda a, b: a * b, "comma"),
]


def arith_records():
    out = []
    for tmpl, vals, f, style in ARITH:
        prompt = tmpl.format(**vals)
        answer = fmt(f(**{k: F(str(v).replace(",", "")) for k, v in vals.items()}), style)
        out.append({"prompt": prompt, "answer": answer})
    return out


# (question, options, the correct value); the letter is computed
CHOICE = [
    ("What is 17 + 26?", [33, 43, 42, 53], 17 + 26),
    ("What is 9 x 12?", [108, 96, 112, 118], 9 * 12),
    ("What is 144 / 12?", [14, 11, 12, 13], 144 // 12),
    ("What is 1,000 - 357?", [743, 653, 643, 753], 1000 - 357),
    ("What is 15% of 80?", [15, 8, 10, 12], F(15, 100) * 80),
    ("What is 3/4 + 1/8?", ["5/8", "7/8", "4/12", "1"], F(3, 4) + F(1, 8)),
    ("What is -6 x -7?", [-42, -13, 42, 13], -6 * -7),
    ("What is 2.5 x 4?", [8, 6.5, 12, 10], F(5, 2) * 4),
    ("How many minutes are in 3 hours?", [120, 180, 300, 360], 3 * 60),
    ("What is the next prime number after 23?", [25, 27, 29, 31, 24], 29),
]


def choice_records():
    out = []
    for q, opts, right in CHOICE:
        hits = [i for i, o in enumerate(opts) if F(str(o)) == F(right)]
        assert len(hits) == 1, (q, hits)
        letters = "ABCDEFGHIJ"
        body = " ".join(f"({letters[i]}) {o}" for i, o in enumerate(opts))
        out.append({"prompt": f"{q} {body}", "answer": letters[hits[0]]})
    return out


def text_of(records):
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def main():
    files = {"arith50.jsonl": arith_records(), "choice10.jsonl": choice_records()}
    assert len(files["arith50.jsonl"]) == 50 and len(files["choice10.jsonl"]) == 10
    check = sys.argv[1:] == ["--check"]
    bad = 0
    for name, recs in files.items():
        path = HERE / name
        text = text_of(recs)
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                print(f"{path}: differs from what make_datasets.py writes", file=sys.stderr)
                bad += 1
        else:
            path.write_text(text, encoding="utf-8")
        print(f"{name}: {len(recs)} records {'checked' if check else 'written'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
