"""The fast front-matter reader agrees with PyYAML whenever it answers."""

import random

import pytest
import yaml

from graphsvc.generate import generate, render
from graphsvc.ingest import fastyaml
from graphsvc.ingest.parse import split_front_matter

PIECES = [
    "a: 1\n", "b: -3\n", "c: 1.50\n", "d: 0777\n", "e: 1_000\n", "f: 2020-01-02\n",
    "g: 2020-01-02T03:04:05Z\n", "h: 2020-01-02T03:04:05.5+02:00\n", "i: yes\n", "j: No\n",
    "k: tRUE\n", "l: null\n", "m: ~\n", "n: \n", "o: 'it''s'\n", 'p: "a \\"q\\" \\u00e9 \\x41"\n',
    'q: "bad \\q"\n', "r: plain text, with: colon\n", "s: text # comment\n", "t: H&M #1\n",
    "u: [1, 2]\n", "v: {x: 1}\n", "w: &x 1\n", "x: *x\n", "y: !!str 1\n", "z: |\n  block\n",
    "aa:\n  - 1\n  - two\n", "ab:\n- x\n- y\n", "ac:\n  - k: v\n    l: w\n  - k: 2\n",
    "ad: multi\n  line\n", "ae:\n  nested: map\n  more: 2\n", "af: é café\n", "ag: 3D\n",
    "ah: .inf\n", "ai: -.5\n", "aj: 0x1F\n", "ak: 1e5\n", "al: 12:30\n", "am: =\n",
    "<<: {a: 1}\n", "? complex\n: key\n", "an: \t tab\n", "ao: x\u2028y\n", "ap: \"open\n",
    "  - bad indent\n", "aq: 'a'b\n", "ar: \"a\" b\n", "as:\n  -\n  - 1\n", "at: -\n",
    "au: - x\n", "av: @x\n", "aw: `x\n", "ax: %x\n", "# just a comment\n", "ay: 'x\n",
    "az:   spaced   \n", "ba: \"\\\n x\"\n", "On: 1\n", "bb: 00\n", "bc: -0\n", "bd: +1\n",
]  # fmt: skip


def yaml_or_error(text):
    try:
        return ("ok", yaml.load(text, Loader=yaml.CSafeLoader))
    except yaml.YAMLError:
        return ("error", None)


def check(text):
    try:
        got = fastyaml.load(text)
    except fastyaml.Unsupported:
        return False
    want = yaml_or_error(text)
    assert want[0] == "ok", f"fastyaml accepted what PyYAML rejects: {text!r}"
    assert got == want[1] and repr(got) == repr(want[1]), text
    return True


def test_each_piece_alone_agrees():
    answered = sum(check(p) for p in PIECES)
    assert answered >= 15  # the simple forms take the fast path


def test_random_documents_agree():
    rng = random.Random(1)
    answered = 0
    for _ in range(3000):
        text = "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 6)))
        answered += check(text)
    assert answered > 100


@pytest.mark.parametrize("seed", [0, 1])
def test_generated_front_matter_takes_the_fast_path(seed):
    for a in generate(60, seed=seed):
        fm, _, _ = split_front_matter(render(a))
        assert check(fm), fm


def test_mutated_front_matter_agrees():
    """Random edits of real-looking front matter: fast answers always match PyYAML."""
    rng = random.Random(2)
    docs = [split_front_matter(render(a))[0] for a in generate(20, seed=3)]
    alphabet = list(" :-#'\"\\\n&*!|>{}[],?%@`~0aZ\u00e9\u2028\t.") + ["  ", "- ", ": ", "\n  "]
    answered = 0
    for _ in range(3000):
        text = rng.choice(docs)
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(text))
            op = rng.random()
            if op < 0.4:
                text = text[:i] + rng.choice(alphabet) + text[i:]
            elif op < 0.7:
                text = text[:i] + text[i + 1 :]
            else:
                text = text[:i] + rng.choice(alphabet) + text[i + 1 :]
        answered += check(text)
    assert answered > 500
