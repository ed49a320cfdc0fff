"""The `fresh` benchmark's source: problems written for assay, in HumanEval's shape.

Each problem has a prompt (signature and docstring with doctest examples), a
canonical solution (the body completing the prompt), a second, independent
implementation written differently (``alternative``), and the body of a
``check(candidate)`` test. Run this file to write ``problems.jsonl`` next to it:

    .venv/bin/python src/assay/data/fresh/problems.py

It lives with the data (under ``assay/data``, which ``assay.sealing`` keeps out
of a running strategy's reach) because it holds the hidden tests.
``tests/test_fresh_problems.py`` checks that the shipped JSONL is what this
file writes, and checks every problem in the sandbox. Licence: the project's
(Apache-2.0); written for assay, copied from nowhere.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

OUTPUT = Path(__file__).resolve().parent / "problems.jsonl"
PROBLEMS: list[dict[str, str]] = []


def problem(entry_point: str, prompt: str, solution: str, alternative: str, test: str) -> None:
    """Add one problem; ``test`` is the body of ``check(candidate)``."""
    PROBLEMS.append(
        {
            "task_id": "Fresh/%d" % len(PROBLEMS),
            "entry_point": entry_point,
            "prompt": prompt.lstrip("\n"),
            "canonical_solution": solution.lstrip("\n"),
            "test": "def check(candidate):\n" + test.strip("\n") + "\n",
            "alternative_solution": alternative.lstrip("\n"),
        }
    )


# ---------------------------------------------------------------- 0
problem(
    "missing_ranges",
    r'''
def missing_ranges(nums: list) -> list:
    """Given a list of integers (in any order, possibly with repeats), find the
    integers strictly between the smallest and the largest value that do not
    occur in the list. Return them grouped into maximal runs of consecutive
    integers, in increasing order, each run written as a string: "a" for a run
    of one integer, "a,b" for a run of exactly two integers a and b, and "a-b"
    for a longer run from a to b. Negative numbers keep their minus sign, so the
    run from -3 to -1 is "-3--1". Return an empty list when nothing is missing,
    and for an empty list.

    >>> missing_ranges([5, 1, 9, 3])
    ['2', '4', '6-8']
    >>> missing_ranges([1, 4, 4])
    ['2,3']
    >>> missing_ranges([4, 4, 5])
    []
    """
''',
    r'''
    values = sorted(set(nums))
    runs = []
    for low, high in zip(values, values[1:]):
        if high - low == 2:
            runs.append(str(low + 1))
        elif high - low == 3:
            runs.append("%d,%d" % (low + 1, low + 2))
        elif high - low > 3:
            runs.append("%d-%d" % (low + 1, high - 1))
    return runs
''',
    r'''
def missing_ranges(nums):
    if not nums:
        return []
    present = set(nums)
    runs = []
    start = end = None
    for x in range(min(nums), max(nums) + 1):
        if x not in present:
            if start is None:
                start = x
            end = x
        elif start is not None:
            if start == end:
                runs.append(str(start))
            elif end == start + 1:
                runs.append(f"{start},{end}")
            else:
                runs.append(f"{start}-{end}")
            start = None
    return runs
''',
    r'''
    assert candidate([5, 1, 9, 3]) == ['2', '4', '6-8']
    assert candidate([4, 4, 5]) == []
    assert candidate([]) == []
    assert candidate([7]) == []
    assert candidate([1, 3]) == ['2']
    assert candidate([-3, 1]) == ['-2-0']
    assert candidate([10, 0, 5, 5]) == ['1-4', '6-9']
    assert candidate([-5, -1]) == ['-4--2']
    assert candidate([2, 2, 2]) == []
    assert candidate([100, 97]) == ['98,99']
    assert candidate([1, 4, 4]) == ['2,3']
    assert candidate([0, 3, 7, -2]) == ['-1', '1,2', '4-6']
''',
)

# ---------------------------------------------------------------- 1
problem(
    "weave_words",
    r'''
def weave_words(first: str, second: str) -> str:
    """Split both strings into words (separated by any whitespace) and build a
    sentence that takes words alternately from `first` and `second`, starting
    with `first`. Every word taken from `second` is written backwards. When one
    string runs out of words, the remaining words of the other follow in order
    (still written backwards if they come from `second`). Words are joined with
    single spaces; if there are no words at all, return the empty string.

    >>> weave_words("the cat sat", "on mat")
    'the no cat tam sat'
    >>> weave_words("", "ab cd")
    'ba dc'
    """
''',
    r'''
    a = first.split()
    b = [word[::-1] for word in second.split()]
    out = []
    for i in range(max(len(a), len(b))):
        if i < len(a):
            out.append(a[i])
        if i < len(b):
            out.append(b[i])
    return " ".join(out)
''',
    r'''
def weave_words(first, second):
    left = list(reversed(first.split()))
    right = list(reversed(second.split()))
    text = ""
    turn = 0
    while left or right:
        if turn == 0 and left:
            word = left.pop()
        elif turn == 1 and right:
            word = "".join(reversed(right.pop()))
        else:
            turn = 1 - turn
            continue
        text = word if not text else text + " " + word
        turn = 1 - turn
    return text
''',
    r'''
    assert candidate("the cat sat", "on mat") == 'the no cat tam sat'
    assert candidate("", "ab cd") == 'ba dc'
    assert candidate("a b c", "xy") == 'a yx b c'
    assert candidate("   ", "") == ''
    assert candidate("one", "two three four") == 'one owt eerht ruof'
    assert candidate("hi\tthere\nyou", "x y z w") == 'hi x there y you z w'
    assert candidate("ab", "") == 'ab'
    assert candidate("Hello, world!", "abc") == 'Hello, cba world!'
    assert candidate("  a   b  ", "  c  ") == 'a c b'
''',
)

# ---------------------------------------------------------------- 2
problem(
    "echo_score",
    r'''
def echo_score(text: str) -> int:
    """Score a string. Every letter a-z or A-Z is worth its position in the
    alphabet (a and A are worth 1, b and B 2, ..., z and Z 26), but a letter is
    worth double when the character just before it is the same letter (ignoring
    case). Every other character, including letters outside a-z such as 'é',
    is worth 0. Return the total.

    >>> echo_score("aab")
    5
    >>> echo_score("Aa!a")
    4
    """
''',
    r'''
    total = 0
    previous = ""
    for ch in text:
        if ch.isascii() and ch.isalpha():
            low = ch.lower()
            value = ord(low) - ord("a") + 1
            total += 2 * value if previous == low else value
            previous = low
        else:
            previous = ""
    return total
''',
    r'''
import string

def echo_score(text):
    letters = string.ascii_lowercase
    total = 0
    for i, ch in enumerate(text):
        if ch not in string.ascii_letters:
            continue
        value = letters.index(ch.lower()) + 1
        if i > 0 and text[i - 1] in string.ascii_letters and text[i - 1].lower() == ch.lower():
            value *= 2
        total += value
    return total
''',
    r'''
    assert candidate("aab") == 5
    assert candidate("Aa!a") == 4
    assert candidate("") == 0
    assert candidate("zz") == 78
    assert candidate("zZz") == 130
    assert candidate("123") == 0
    assert candidate("abc") == 6
    assert candidate("a a") == 2
    assert candidate("\u00e9\u00e9") == 0
    assert candidate("Hello") == 64
    assert candidate("bbb") == 10
    assert candidate("\u212ak") == 11
''',
)

# ---------------------------------------------------------------- 3
problem(
    "heavy_prefix",
    r'''
def heavy_prefix(nums: list) -> int:
    """Return the smallest index i such that the sum of nums[0], ..., nums[i]
    is at least twice the sum of the elements after index i (that sum is 0 when
    i is the last index). The numbers may be negative. Return -1 when no index
    qualifies (for instance for an empty list).

    >>> heavy_prefix([1, 2, 3, 4])
    3
    >>> heavy_prefix([10, 1, 1, 1])
    0
    >>> heavy_prefix([-5, -1])
    -1
    """
''',
    r'''
    total = sum(nums)
    prefix = 0
    for i, x in enumerate(nums):
        prefix += x
        if prefix >= 2 * (total - prefix):
            return i
    return -1
''',
    r'''
def heavy_prefix(nums):
    candidates = [i for i in range(len(nums)) if sum(nums[: i + 1]) >= 2 * sum(nums[i + 1 :])]
    return min(candidates) if candidates else -1
''',
    r'''
    assert candidate([1, 2, 3, 4]) == 3
    assert candidate([10, 1, 1, 1]) == 0
    assert candidate([-5, -1]) == -1
    assert candidate([]) == -1
    assert candidate([0]) == 0
    assert candidate([-1]) == -1
    assert candidate([3, 1, 1]) == 1
    assert candidate([2, -3, 5]) == 2
    assert candidate([5, -10, 1]) == 0
    assert candidate([1, 1, 1, 1, 1, 1]) == 3
    assert candidate([0, 0, 0]) == 0
''',
)

# ---------------------------------------------------------------- 4
problem(
    "digit_trail",
    r'''
def digit_trail(n: int) -> list:
    """Starting from a non-negative integer n, repeatedly replace the current
    number by (the product of its non-zero decimal digits) + (the number of its
    decimal digits). A product of no digits is 1, so 0 becomes 1 + 1 = 2 and 100
    becomes 1 + 3 = 4. Return the list of numbers seen, starting with n and
    stopping just before the first number that is already in the list.

    >>> digit_trail(39)
    [39, 29, 20, 4, 5, 6, 7, 8, 9, 10, 3]
    >>> digit_trail(7)
    [7, 8, 9, 10, 3, 4, 5, 6]
    """
''',
    r'''
    seen = []
    current = n
    while current not in seen:
        seen.append(current)
        product = 1
        for digit in str(current):
            if digit != "0":
                product *= int(digit)
        current = product + len(str(current))
    return seen
''',
    r'''
def digit_trail(n):
    def step(x):
        product, count = 1, 0
        while True:
            x, d = divmod(x, 10)
            count += 1
            if d:
                product *= d
            if x == 0:
                return product + count

    trail = [n]
    positions = {n}
    while True:
        nxt = step(trail[-1])
        if nxt in positions:
            return trail
        positions.add(nxt)
        trail.append(nxt)
''',
    r'''
    assert candidate(39) == [39, 29, 20, 4, 5, 6, 7, 8, 9, 10, 3]
    assert candidate(7) == [7, 8, 9, 10, 3, 4, 5, 6]
    assert candidate(0) == [0, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert candidate(10) == [10, 3, 4, 5, 6, 7, 8, 9]
    assert candidate(9) == [9, 10, 3, 4, 5, 6, 7, 8]
    assert candidate(100) == [100, 4, 5, 6, 7, 8, 9, 10, 3]
    assert candidate(99) == [99, 83, 26, 14, 6, 7, 8, 9, 10, 3, 4, 5]
    assert candidate(1) == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert candidate(3) == [3, 4, 5, 6, 7, 8, 9, 10]
''',
)

# ---------------------------------------------------------------- 5
problem(
    "replay",
    r'''
def replay(commands: str) -> str:
    """Build a string by reading `commands` from left to right:
    - a lowercase letter a-z is appended to the output;
    - a digit d from 1 to 9 appends d more copies of the current last character
      of the output;
    - the digit 0 removes the last character of the output.
    A digit read while the output is empty is ignored, and so is every other
    character (uppercase letters, spaces, punctuation). Return the output.

    >>> replay("ab2c0d")
    'abbbd'
    >>> replay("a00b")
    'b'
    """
''',
    r'''
    out = []
    for ch in commands:
        if "a" <= ch <= "z":
            out.append(ch)
        elif "0" <= ch <= "9" and out:
            if ch == "0":
                out.pop()
            else:
                out.extend(out[-1] * int(ch))
    return "".join(out)
''',
    r'''
import string

def replay(commands):
    text = ""
    for ch in commands:
        if ch in string.ascii_lowercase:
            text += ch
        elif ch in string.digits and text:
            count = string.digits.index(ch)
            text = text[:-1] if count == 0 else text + text[-1] * count
    return text
''',
    r'''
    assert candidate("ab2c0d") == 'abbbd'
    assert candidate("a00b") == 'b'
    assert candidate("") == ''
    assert candidate("5") == ''
    assert candidate("x9") == 'xxxxxxxxxx'
    assert candidate("ab0c1") == 'acc'
    assert candidate("A b") == 'b'
    assert candidate("z1 0") == 'z'
    assert candidate("q3q0") == 'qqqq'
    assert candidate("abc000x") == 'x'
    assert candidate("ab12") == 'abbbb'
''',
)

# ---------------------------------------------------------------- 6
problem(
    "rotate_border",
    r'''
def rotate_border(grid: list) -> list:
    """Given a rectangular grid (a list of rows of equal length), return a new
    grid in which the values on the outer border have moved one step clockwise
    around the border, and the inner values stay where they are. Clockwise
    means: along the top row values move right, down the right column they move
    down, along the bottom row they move left, and up the left column they move
    up. A grid with fewer than two rows or fewer than two columns is returned as
    an unchanged copy. The input grid must not be modified.

    >>> rotate_border([[1, 2], [3, 4]])
    [[3, 1], [4, 2]]
    >>> rotate_border([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    [[4, 1, 2], [7, 5, 3], [8, 9, 6]]
    """
''',
    r'''
    result = [list(row) for row in grid]
    rows = len(grid)
    cols = len(grid[0]) if rows else 0
    if rows < 2 or cols < 2:
        return result
    path = [(0, c) for c in range(cols)]
    path += [(r, cols - 1) for r in range(1, rows)]
    path += [(rows - 1, c) for c in range(cols - 2, -1, -1)]
    path += [(r, 0) for r in range(rows - 2, 0, -1)]
    values = [grid[r][c] for r, c in path]
    values = values[-1:] + values[:-1]
    for (r, c), value in zip(path, values):
        result[r][c] = value
    return result
''',
    r'''
def rotate_border(grid):
    new = [row[:] for row in grid]
    R = len(grid)
    if R < 2 or len(grid[0]) < 2:
        return new
    C = len(grid[0])
    for c in range(1, C):
        new[0][c] = grid[0][c - 1]
    for r in range(1, R):
        new[r][C - 1] = grid[r - 1][C - 1]
    for c in range(C - 1):
        new[R - 1][c] = grid[R - 1][c + 1]
    for r in range(R - 1):
        new[r][0] = grid[r + 1][0]
    return new
''',
    r'''
    assert candidate([[1, 2], [3, 4]]) == [[3, 1], [4, 2]]
    assert candidate([[1, 2, 3], [4, 5, 6], [7, 8, 9]]) == [[4, 1, 2], [7, 5, 3], [8, 9, 6]]
    assert candidate([]) == []
    assert candidate([[1, 2, 3]]) == [[1, 2, 3]]
    assert candidate([[1], [2]]) == [[1], [2]]
    assert candidate([[]]) == [[]]
    assert candidate([[1, 2, 3], [4, 5, 6]]) == [[4, 1, 2], [5, 6, 3]]
    assert candidate([[1, 2], [3, 4], [5, 6]]) == [[3, 1], [5, 2], [6, 4]]
    assert candidate([[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]]) == [[5, 1, 2, 3], [9, 6, 7, 4], [10, 11, 12, 8]]
    assert candidate([["a", "b"], ["c", "d"]]) == [["c", "a"], ["d", "b"]]
''',
)

# ---------------------------------------------------------------- 7
problem(
    "best_chunk",
    r'''
def best_chunk(nums: list, k: int) -> int:
    """Cut `nums` into consecutive chunks of k elements (the last chunk may be
    shorter) and return the 0-based number of the chunk with the largest sum.
    When several chunks share the largest sum, return the number of the last of
    them. Return -1 for an empty list. k is at least 1.

    >>> best_chunk([1, 2, 3, 4, 5], 2)
    1
    >>> best_chunk([5, 0, 1, 4], 2)
    1
    >>> best_chunk([-3, -1, -2], 1)
    1
    """
''',
    r'''
    best, best_sum = -1, None
    for number, start in enumerate(range(0, len(nums), k)):
        total = sum(nums[start:start + k])
        if best_sum is None or total >= best_sum:
            best, best_sum = number, total
    return best
''',
    r'''
def best_chunk(nums, k):
    sums = []
    for i, x in enumerate(nums):
        if i % k == 0:
            sums.append(0)
        sums[-1] += x
    if not sums:
        return -1
    top = max(sums)
    return len(sums) - 1 - sums[::-1].index(top)
''',
    r'''
    assert candidate([1, 2, 3, 4, 5], 2) == 1
    assert candidate([5, 0, 1, 4], 2) == 1
    assert candidate([-3, -1, -2], 1) == 1
    assert candidate([], 3) == -1
    assert candidate([4], 5) == 0
    assert candidate([1, 1, 1, 1], 1) == 3
    assert candidate([9, 1, 1, 1, 1, 8], 3) == 0
    assert candidate([1, 2, 3, 10], 3) == 1
    assert candidate([0, 0, 0], 2) == 1
    assert candidate([-1, -1, -5, 3, -4], 2) == 1
''',
)

# ---------------------------------------------------------------- 8
problem(
    "difference_tower",
    r'''
def difference_tower(nums: list) -> int:
    """Repeatedly replace the list by the absolute differences of neighbouring
    elements (a list of n numbers becomes a list of n - 1 numbers) until one
    number is left, and return that number. A list of one number returns it
    unchanged (even if it is negative). Return 0 for an empty list.

    >>> difference_tower([1, 4, 2])
    1
    >>> difference_tower([7])
    7
    """
''',
    r'''
    if not nums:
        return 0
    row = list(nums)
    while len(row) > 1:
        row = [abs(b - a) for a, b in zip(row, row[1:])]
    return row[0]
''',
    r'''
def difference_tower(nums):
    if len(nums) == 0:
        return 0
    if len(nums) == 1:
        return nums[0]
    return difference_tower([abs(nums[i] - nums[i + 1]) for i in range(len(nums) - 1)])
''',
    r'''
    assert candidate([1, 4, 2]) == 1
    assert candidate([7]) == 7
    assert candidate([]) == 0
    assert candidate([-7]) == -7
    assert candidate([3, 3]) == 0
    assert candidate([-2, 5]) == 7
    assert candidate([1, 2, 4, 8]) == 1
    assert candidate([10, 0, 10, 0, 10]) == 0
    assert candidate([5, 1, 9, 2, 7, 3]) == 2
''',
)

# ---------------------------------------------------------------- 9
problem(
    "clean_words",
    r'''
def clean_words(text: str, banned: str) -> list:
    """Return the words of `text` (separated by whitespace) that contain none of
    the characters of `banned`, comparing case-insensitively. The words are
    returned in lowercase, in order of first appearance, each only once
    (punctuation stays part of a word).

    >>> clean_words("Red fox, red DOG", "x")
    ['red', 'dog']
    >>> clean_words("a b", "")
    ['a', 'b']
    """
''',
    r'''
    bad = set(banned.lower())
    out = []
    for word in text.lower().split():
        if not bad.intersection(word) and word not in out:
            out.append(word)
    return out
''',
    r'''
def clean_words(text, banned):
    kept = {}
    for word in text.split():
        low = word.lower()
        if all(ch not in low for ch in banned.lower()):
            kept.setdefault(low, len(kept))
    return sorted(kept, key=kept.get)
''',
    r'''
    assert candidate("Red fox, red DOG", "x") == ['red', 'dog']
    assert candidate("a b", "") == ['a', 'b']
    assert candidate("", "abc") == []
    assert candidate("Apple banana", "A") == []
    assert candidate("Apple banana cherry", "n") == ['apple', 'cherry']
    assert candidate("one, two; one", ",") == ['two;', 'one']
    assert candidate("X x Y", "z") == ['x', 'y']
    assert candidate("hello\tworld\nhello", "q") == ['hello', 'world']
    assert candidate("abc def", "xyzF") == ['abc']
''',
)

# ---------------------------------------------------------------- 10
problem(
    "assign_seats",
    r'''
def assign_seats(n: int, requests: list) -> list:
    """A row has seats numbered 1 to n, all free at first. Requests arrive in
    order; each names a preferred seat number (which may lie outside 1..n).
    Each request gets the free seat closest to its preferred number (distance
    |seat - preferred|); when two free seats are equally close, it gets the
    lower-numbered one. A request made when no seat is free gets -1. Return the
    seat given to each request, in order.

    >>> assign_seats(5, [3, 3, 3])
    [3, 2, 4]
    >>> assign_seats(2, [9, 9, 9])
    [2, 1, -1]
    """
''',
    r'''
    free = set(range(1, n + 1))
    given = []
    for wanted in requests:
        if not free:
            given.append(-1)
            continue
        seat = min(free, key=lambda s: (abs(s - wanted), s))
        free.remove(seat)
        given.append(seat)
    return given
''',
    r'''
def assign_seats(n, requests):
    taken = [False] * (n + 2)
    left = n
    out = []
    for p in requests:
        if left == 0:
            out.append(-1)
            continue
        d = 0
        while True:
            low, high = p - d, p + d
            if 1 <= low <= n and not taken[low]:
                seat = low
                break
            if 1 <= high <= n and not taken[high]:
                seat = high
                break
            d += 1
        taken[seat] = True
        left -= 1
        out.append(seat)
    return out
''',
    r'''
    assert candidate(5, [3, 3, 3]) == [3, 2, 4]
    assert candidate(2, [9, 9, 9]) == [2, 1, -1]
    assert candidate(0, [1, 2]) == [-1, -1]
    assert candidate(3, []) == []
    assert candidate(4, [-5, -5]) == [1, 2]
    assert candidate(6, [2, 5, 3, 4]) == [2, 5, 3, 4]
    assert candidate(5, [3, 3, 3, 3, 3, 3]) == [3, 2, 4, 1, 5, -1]
    assert candidate(7, [4, 4, 6, 5]) == [4, 3, 6, 5]
    assert candidate(1, [0, 0]) == [1, -1]
''',
)

# ---------------------------------------------------------------- 11
problem(
    "elevator_distance",
    r'''
def elevator_distance(start: int, calls: list) -> int:
    """An elevator stands at floor `start` and must visit every floor listed in
    `calls` (a floor may be listed several times; one visit serves it). It
    always moves next to the closest floor not yet visited; when two such
    floors are equally close, it goes to the lower one. Passing through a floor
    does not count as visiting it; a call for the floor it stands on is served
    at once at no cost. Return the total number of floors travelled.

    >>> elevator_distance(5, [1, 8, 6])
    10
    >>> elevator_distance(3, [1, 5])
    6
    """
''',
    r'''
    pending = set(calls)
    position = start
    travelled = 0
    while pending:
        target = min(pending, key=lambda floor: (abs(floor - position), floor))
        travelled += abs(target - position)
        position = target
        pending.remove(target)
    return travelled
''',
    r'''
import bisect

def elevator_distance(start, calls):
    floors = sorted(set(calls))
    here = start
    total = 0
    while floors:
        i = bisect.bisect_left(floors, here)
        options = []
        if i > 0:
            options.append(floors[i - 1])
        if i < len(floors):
            options.append(floors[i])
        best = options[0]
        for f in options[1:]:
            if abs(f - here) < abs(best - here):
                best = f
        total += abs(best - here)
        here = best
        floors.remove(best)
    return total
''',
    r'''
    assert candidate(5, [1, 8, 6]) == 10
    assert candidate(3, [1, 5]) == 6
    assert candidate(0, []) == 0
    assert candidate(4, [4, 4]) == 0
    assert candidate(-2, [3]) == 5
    assert candidate(10, [1, 2, 3]) == 9
    assert candidate(0, [-1, 1, 2]) == 4
    assert candidate(0, [-2, 2, 5]) == 9
    assert candidate(7, [7, 9, 5, 9]) == 6
''',
)

# ---------------------------------------------------------------- 12
problem(
    "count_lines",
    r'''
def count_lines(words: list, width: int) -> int:
    """Place `words` (a list of non-empty strings) on lines greedily, in order:
    a word goes on the current line if the line (its words joined by single
    spaces) is then at most `width` characters long; otherwise the word starts
    a new line. An empty line accepts any word, even one longer than `width`
    (words are never split). Return the number of lines used; 0 for no words.

    >>> count_lines(["ab", "cd", "efg"], 5)
    2
    >>> count_lines(["toolongword", "a"], 4)
    2
    """
''',
    r'''
    lines = 0
    length = 0
    for word in words:
        if lines and length + 1 + len(word) <= width:
            length += 1 + len(word)
        else:
            lines += 1
            length = len(word)
    return lines
''',
    r'''
def count_lines(words, width):
    lines = []
    for w in words:
        if lines and len(" ".join(lines[-1] + [w])) <= width:
            lines[-1].append(w)
        else:
            lines.append([w])
    return len(lines)
''',
    r'''
    assert candidate(["ab", "cd", "efg"], 5) == 2
    assert candidate(["toolongword", "a"], 4) == 2
    assert candidate([], 10) == 0
    assert candidate(["a"], 0) == 1
    assert candidate(["a", "b", "c"], 5) == 1
    assert candidate(["a", "b", "c"], 4) == 2
    assert candidate(["abc", "defgh", "i"], 3) == 3
    assert candidate(["x", "yyyyyy", "z", "w"], 3) == 3
    assert candidate(["aa", "bb", "cc", "dd"], 5) == 2
''',
)

# ---------------------------------------------------------------- 13
problem(
    "widening_zigzag",
    r'''
def widening_zigzag(nums: list) -> int:
    """Return the length of the longest contiguous stretch of `nums` in which the
    differences between neighbours are all non-zero, alternate in sign (up,
    down, up, ... or down, up, down, ...), and never shrink in size: the
    absolute value of each difference is at least that of the difference before
    it. A single element is a stretch of length 1; an empty list gives 0.

    >>> widening_zigzag([1, 3, 2, 4, 4, 5])
    3
    >>> widening_zigzag([5, 4, 6, 2, 9])
    5
    >>> widening_zigzag([2, 2, 2])
    1
    """
''',
    r'''
    if not nums:
        return 0
    best = current = 1
    previous = 0
    for a, b in zip(nums, nums[1:]):
        step = b - a
        if step == 0:
            current = 1
        elif previous != 0 and (step > 0) != (previous > 0) and abs(step) >= abs(previous):
            current += 1
        else:
            current = 2
        previous = step
        best = max(best, current)
    return best
''',
    r'''
def widening_zigzag(nums):
    def ok(part):
        diffs = [b - a for a, b in zip(part, part[1:])]
        if 0 in diffs:
            return False
        return all(x * y < 0 and abs(y) >= abs(x) for x, y in zip(diffs, diffs[1:]))

    best = 0
    n = len(nums)
    for i in range(n):
        for j in range(i + 1, n + 1):
            if ok(nums[i:j]):
                best = max(best, j - i)
    return best
''',
    r'''
    assert candidate([1, 3, 2, 4, 4, 5]) == 3
    assert candidate([5, 4, 6, 2, 9]) == 5
    assert candidate([2, 2, 2]) == 1
    assert candidate([]) == 0
    assert candidate([9]) == 1
    assert candidate([1, 2]) == 2
    assert candidate([1, 2, 3, 4]) == 2
    assert candidate([0, 1, 0, 1, 0]) == 5
    assert candidate([0, 3, 1, 2, 0]) == 3
    assert candidate([10, 0, 5, 4, 6, 3, 7]) == 5
    assert candidate([3, 3, 1, 4, 0, 5, 5]) == 5
''',
)

# ---------------------------------------------------------------- 14
problem(
    "fewest_coins",
    r'''
def fewest_coins(amount: int, coins: list) -> int:
    """You hold exactly two coins of every value in `coins` (distinct positive
    integers). Return the smallest number of your coins whose values add up to
    exactly `amount`, or -1 if no choice of coins does. An amount of 0 needs 0
    coins.

    >>> fewest_coins(13, [5, 2, 1])
    4
    >>> fewest_coins(11, [5, 1])
    3
    >>> fewest_coins(30, [10])
    -1
    """
''',
    r'''
    impossible = amount + 1
    best = [0] + [impossible] * amount
    for coin in coins:
        for _ in range(2):
            for total in range(amount, coin - 1, -1):
                if best[total - coin] + 1 < best[total]:
                    best[total] = best[total - coin] + 1
    return best[amount] if best[amount] != impossible else -1
''',
    r'''
from itertools import product

def fewest_coins(amount, coins):
    fewest = None
    for counts in product(range(3), repeat=len(coins)):
        if sum(c * v for c, v in zip(counts, coins)) == amount:
            used = sum(counts)
            if fewest is None or used < fewest:
                fewest = used
    return -1 if fewest is None else fewest
''',
    r'''
    assert candidate(13, [5, 2, 1]) == 4
    assert candidate(11, [5, 1]) == 3
    assert candidate(30, [10]) == -1
    assert candidate(0, []) == 0
    assert candidate(0, [3]) == 0
    assert candidate(5, []) == -1
    assert candidate(20, [10]) == 2
    assert candidate(6, [4, 3, 1]) == 2
    assert candidate(16, [7, 4, 1]) == 4
    assert candidate(100, [50, 25, 10, 5, 1]) == 2
    assert candidate(183, [50, 25, 10, 5, 1]) == -1
''',
)

# ---------------------------------------------------------------- 15
problem(
    "match_socks",
    r'''
def match_socks(socks: list) -> tuple:
    """Each sock is written "<colour>-L" (a left sock) or "<colour>-R" (a right
    sock); the colour is everything before the last '-' and may itself contain
    '-'. A pair is one left and one right sock of the same colour. Make as many
    pairs as possible and return a tuple (pairs, leftovers): the number of
    pairs, and the list of colours that still have at least one unpaired sock,
    each listed once, sorted in plain string order ('Z' before 'a').

    >>> match_socks(["red-L", "red-R", "blue-L", "red-L"])
    (1, ['blue', 'red'])
    >>> match_socks([])
    (0, [])
    """
''',
    r'''
    counts = {}
    for sock in socks:
        colour, side = sock.rsplit("-", 1)
        left, right = counts.get(colour, (0, 0))
        counts[colour] = (left + 1, right) if side == "L" else (left, right + 1)
    pairs = sum(min(left, right) for left, right in counts.values())
    leftovers = sorted(colour for colour, (left, right) in counts.items() if left != right)
    return (pairs, leftovers)
''',
    r'''
from collections import Counter

def match_socks(socks):
    lefts = Counter(s[:-2] for s in socks if s.endswith("-L"))
    rights = Counter(s[:-2] for s in socks if s.endswith("-R"))
    matched = lefts & rights
    unmatched = (lefts - rights) + (rights - lefts)
    return sum(matched.values()), sorted(unmatched)
''',
    r'''
    assert candidate(["red-L", "red-R", "blue-L", "red-L"]) == (1, ['blue', 'red'])
    assert candidate([]) == (0, [])
    assert candidate(["a-L", "a-R"]) == (1, [])
    assert candidate(["a-L", "a-L"]) == (0, ['a'])
    assert candidate(["dark-red-L", "dark-red-R", "dark-L"]) == (1, ['dark'])
    assert candidate(["x-R", "y-L", "x-L", "y-R", "y-R", "y-L"]) == (3, [])
    assert candidate(["b-R", "a-R", "c-L", "a-L"]) == (1, ['b', 'c'])
    assert candidate(["green-L"] * 3 + ["green-R"] * 5) == (3, ['green'])
    assert candidate(["Z-L", "z-R"]) == (0, ['Z', 'z'])
''',
)

# ---------------------------------------------------------------- 16
problem(
    "clock_add",
    r'''
def clock_add(time: str, minutes: int) -> str:
    """`time` is a 24-hour clock time "HH:MM" (two digits each). Add `minutes`
    (possibly negative) and return the new time as "HH:MM". If the result falls
    on another day, append the number of days moved with its sign: "+1" for the
    next day, "-2" for two days earlier, and so on; nothing is appended when
    the day stays the same.

    >>> clock_add("23:30", 45)
    '00:15+1'
    >>> clock_add("00:10", -20)
    '23:50-1'
    >>> clock_add("12:00", 0)
    '12:00'
    """
''',
    r'''
    hours, mins = int(time[:2]), int(time[3:])
    days, rest = divmod(hours * 60 + mins + minutes, 24 * 60)
    text = "%02d:%02d" % divmod(rest, 60)
    if days:
        text += "%+d" % days
    return text
''',
    r'''
def clock_add(time, minutes):
    h, m = map(int, time.split(":"))
    day = 0
    m += minutes
    while m >= 60:
        m -= 60
        h += 1
    while m < 0:
        m += 60
        h -= 1
    while h >= 24:
        h -= 24
        day += 1
    while h < 0:
        h += 24
        day -= 1
    out = str(h).zfill(2) + ":" + str(m).zfill(2)
    if day > 0:
        out += "+" + str(day)
    elif day < 0:
        out += str(day)
    return out
''',
    r'''
    assert candidate("23:30", 45) == '00:15+1'
    assert candidate("00:10", -20) == '23:50-1'
    assert candidate("12:00", 0) == '12:00'
    assert candidate("00:00", 1440) == '00:00+1'
    assert candidate("00:00", -1) == '23:59-1'
    assert candidate("08:05", 70) == '09:15'
    assert candidate("23:59", 1) == '00:00+1'
    assert candidate("10:00", 3 * 1440 + 5) == '10:05+3'
    assert candidate("01:00", -2 * 1440 - 120) == '23:00-3'
    assert candidate("00:00", -1440) == '00:00-1'
''',
)

# ---------------------------------------------------------------- 17
problem(
    "visited_cells",
    r'''
def visited_cells(commands: str) -> int:
    """A robot starts on cell (0, 0) of an endless grid, facing north. It reads
    `commands` one character at a time: 'F' moves one cell forward, 'B' moves
    one cell backward (without turning), 'L' and 'R' turn 90 degrees left or
    right on the spot; every other character is ignored. Return how many
    distinct cells the robot has stood on, the starting cell included.

    >>> visited_cells("FFRFF")
    5
    >>> visited_cells("FB")
    2
    """
''',
    r'''
    x = y = 0
    dx, dy = 0, 1
    seen = {(0, 0)}
    for ch in commands:
        if ch == "F":
            x, y = x + dx, y + dy
        elif ch == "B":
            x, y = x - dx, y - dy
        elif ch == "L":
            dx, dy = -dy, dx
        elif ch == "R":
            dx, dy = dy, -dx
        seen.add((x, y))
    return len(seen)
''',
    r'''
def visited_cells(commands):
    position = 0j
    heading = 1j
    cells = [position]
    for c in commands:
        if c in "FB":
            position += heading if c == "F" else -heading
            cells.append(position)
        elif c == "L":
            heading *= 1j
        elif c == "R":
            heading *= -1j
    return len(set(cells))
''',
    r'''
    assert candidate("FFRFF") == 5
    assert candidate("FB") == 2
    assert candidate("") == 1
    assert candidate("LRLR") == 1
    assert candidate("FRFRFRF") == 4
    assert candidate("BBB") == 4
    assert candidate("FLFLFLFLF") == 4
    assert candidate("F?F x RRF") == 3
    assert candidate("ffRF") == 2
    assert candidate("FFFFRRFF") == 5
''',
)

# ---------------------------------------------------------------- 18
problem(
    "count_splits",
    r'''
def count_splits(digits: str, limit: int) -> int:
    """Count the ways to cut the string of decimal digits `digits` into
    consecutive pieces so that every piece is a number from 0 to `limit`
    written without leading zeros (the piece "0" is allowed, "05" is not).
    For an empty string return 1.

    >>> count_splits("123", 25)
    3
    >>> count_splits("100", 10)
    2
    """
''',
    r'''
    n = len(digits)
    ways = [0] * (n + 1)
    ways[n] = 1
    for start in range(n - 1, -1, -1):
        for end in range(start + 1, n + 1):
            piece = digits[start:end]
            if piece[0] == "0" and len(piece) > 1:
                break
            if int(piece) > limit:
                break
            ways[start] += ways[end]
    return ways[0]
''',
    r'''
def count_splits(digits, limit):
    n = len(digits)
    if n == 0:
        return 1
    count = 0
    for mask in range(1 << (n - 1)):
        pieces, current = [], digits[0]
        for i in range(1, n):
            if mask >> (i - 1) & 1:
                pieces.append(current)
                current = digits[i]
            else:
                current += digits[i]
        pieces.append(current)
        if all(str(int(p)) == p and int(p) <= limit for p in pieces):
            count += 1
    return count
''',
    r'''
    assert candidate("123", 25) == 3
    assert candidate("100", 10) == 2
    assert candidate("", 5) == 1
    assert candidate("7", 5) == 0
    assert candidate("0", 0) == 1
    assert candidate("00", 0) == 1
    assert candidate("100", 100) == 3
    assert candidate("1111", 11) == 5
    assert candidate("1111", 1000) == 7
    assert candidate("105", 1000) == 3
    assert candidate("999", 8) == 0
''',
)

# ---------------------------------------------------------------- 19
problem(
    "best_circular_window",
    r'''
def best_circular_window(nums: list, k: int) -> int:
    """Treat `nums` as circular: after the last element comes the first again.
    For every start index 0 .. len(nums) - 1 consider the window of k
    consecutive elements beginning there (wrapping around), and return the
    start index of a window with the largest sum; on ties, the smallest such
    index. Return -1 when k < 1 or k > len(nums).

    >>> best_circular_window([5, 1, 1, 4], 2)
    3
    >>> best_circular_window([1, 2, 3], 3)
    0
    """
''',
    r'''
    n = len(nums)
    if k < 1 or k > n:
        return -1
    window = sum(nums[:k])
    best, best_start = window, 0
    for start in range(1, n):
        window += nums[(start + k - 1) % n] - nums[start - 1]
        if window > best:
            best, best_start = window, start
    return best_start
''',
    r'''
def best_circular_window(nums, k):
    if not 1 <= k <= len(nums):
        return -1
    doubled = nums + nums
    sums = [sum(doubled[i:i + k]) for i in range(len(nums))]
    return sums.index(max(sums))
''',
    r'''
    assert candidate([5, 1, 1, 4], 2) == 3
    assert candidate([1, 2, 3], 3) == 0
    assert candidate([], 1) == -1
    assert candidate([1, 2], 0) == -1
    assert candidate([1, 2], 3) == -1
    assert candidate([4], 1) == 0
    assert candidate([2, 2, 2, 2], 2) == 0
    assert candidate([1, -5, 1, 3, 0], 3) == 2
    assert candidate([3, -1, -1, -1, 3], 2) == 4
    assert candidate([-2, -3, -1], 1) == 2
''',
)

# ---------------------------------------------------------------- 20
problem(
    "covered_points",
    r'''
def covered_points(intervals: list) -> int:
    """Each interval is a pair [a, b] of integers standing for every integer x
    with a <= x <= b; an interval with a > b stands for no integers. Return how
    many distinct integers lie in at least one interval.

    >>> covered_points([[1, 3], [2, 5]])
    5
    >>> covered_points([[4, 2], [0, 0]])
    1
    """
''',
    r'''
    spans = sorted((a, b) for a, b in intervals if a <= b)
    total = 0
    reach = None
    for a, b in spans:
        if reach is not None and a <= reach:
            if b > reach:
                total += b - reach
                reach = b
        else:
            total += b - a + 1
            reach = b
    return total
''',
    r'''
def covered_points(intervals):
    points = set()
    for a, b in intervals:
        points.update(range(a, b + 1))
    return len(points)
''',
    r'''
    assert candidate([[1, 3], [2, 5]]) == 5
    assert candidate([[4, 2], [0, 0]]) == 1
    assert candidate([]) == 0
    assert candidate([[5, 4]]) == 0
    assert candidate([[1, 2], [3, 4]]) == 4
    assert candidate([[1, 2], [4, 5]]) == 4
    assert candidate([[-3, 3], [-1, 1]]) == 7
    assert candidate([[0, 10], [2, 3], [9, 12]]) == 13
    assert candidate([[0, 99999], [50000, 100000]]) == 100001
    assert candidate([[7, 7], [7, 7], [8, 8]]) == 2
''',
)

# ---------------------------------------------------------------- 21
problem(
    "depth_totals",
    r'''
def depth_totals(nested: list) -> dict:
    """`nested` is a list whose items are integers or lists of the same kind,
    nested to any depth. Integers directly inside `nested` are at depth 1,
    integers inside a list inside `nested` at depth 2, and so on. Return a
    dictionary mapping each depth to the sum of the integers at that depth,
    with a key only for depths that hold at least one integer.

    >>> depth_totals([1, [2, 3], [[4]], 5])
    {1: 6, 2: 5, 3: 4}
    >>> depth_totals([[], [[]]])
    {}
    """
''',
    r'''
    totals = {}

    def walk(items, depth):
        for item in items:
            if isinstance(item, list):
                walk(item, depth + 1)
            else:
                totals[depth] = totals.get(depth, 0) + item

    walk(nested, 1)
    return totals
''',
    r'''
def depth_totals(nested):
    out = {}
    stack = [(nested, 1)]
    while stack:
        items, depth = stack.pop()
        ints = [x for x in items if not isinstance(x, list)]
        if ints:
            out[depth] = out.get(depth, 0) + sum(ints)
        stack.extend((x, depth + 1) for x in items if isinstance(x, list))
    return dict(sorted(out.items()))
''',
    r'''
    assert candidate([1, [2, 3], [[4]], 5]) == {1: 6, 2: 5, 3: 4}
    assert candidate([[], [[]]]) == {}
    assert candidate([]) == {}
    assert candidate([0]) == {1: 0}
    assert candidate([[[[[7]]]]]) == {5: 7}
    assert candidate([1, -1, [2, -2]]) == {1: 0, 2: 0}
    assert candidate([[1], [2], [[3], 4]]) == {2: 7, 3: 3}
    assert candidate([[10, [20, [30]]], 5]) == {1: 5, 2: 10, 3: 20, 4: 30}
    assert candidate([[[]], 3, [[4, [5]]]]) == {1: 3, 3: 4, 4: 5}
''',
)

# ---------------------------------------------------------------- 22
problem(
    "parse_settings",
    r'''
def parse_settings(text: str) -> dict:
    """Parse settings written as "key=value" entries separated by ';'. Only the
    first '=' of an entry separates the key from the value; keys and values are
    stripped of surrounding whitespace. An entry without '=', or whose key is
    empty after stripping, is ignored. A value made of an optional '-' followed
    by one or more of the digits 0-9 becomes an int; every other value
    (including the empty string) stays a string. When a key appears more than
    once, the last value wins.

    >>> parse_settings("a=1; b = x ;a=-7")
    {'a': -7, 'b': 'x'}
    >>> parse_settings("flag; =3; c==")
    {'c': '='}
    """
''',
    r'''
    import re

    settings = {}
    for entry in text.split(";"):
        if "=" not in entry:
            continue
        key, value = entry.split("=", 1)
        key, value = key.strip(), value.strip()
        if not key:
            continue
        settings[key] = int(value) if re.fullmatch(r"-?[0-9]+", value) else value
    return settings
''',
    r'''
def parse_settings(text):
    result = {}
    for part in text.split(";"):
        at = part.find("=")
        if at < 0:
            continue
        key = part[:at].strip()
        value = part[at + 1:].strip()
        if key == "":
            continue
        body = value[1:] if value.startswith("-") else value
        if body != "" and all(ch in "0123456789" for ch in body):
            negative = value.startswith("-")
            number = 0
            for ch in body:
                number = number * 10 + "0123456789".index(ch)
            result[key] = -number if negative else number
        else:
            result[key] = value
    return result
''',
    r'''
    assert candidate("a=1; b = x ;a=-7") == {'a': -7, 'b': 'x'}
    assert candidate("flag; =3; c==") == {'c': '='}
    assert candidate("") == {}
    assert candidate("x=") == {'x': ''}
    assert candidate("n=-") == {'n': '-'}
    assert candidate("n=--5") == {'n': '--5'}
    assert candidate("n=+5") == {'n': '+5'}
    assert candidate("v=007; w=1.5") == {'v': 7, 'w': '1.5'}
    assert candidate("k = a b = c ;;") == {'k': 'a b = c'}
    assert candidate("sq=\u00b2; ar=\u0663") == {'sq': '\u00b2', 'ar': '\u0663'}
    assert candidate(" A=1;a=2 ") == {'A': 1, 'a': 2}
''',
)

# ---------------------------------------------------------------- 23
problem(
    "rotate_vowels",
    r'''
def rotate_vowels(text: str, k: int) -> str:
    """Take the vowels of `text` (a, e, i, o, u in either case) in order and
    rotate that sequence k places to the right (k may exceed the number of
    vowels; a negative k rotates to the left), then put the vowels back into the
    vowel positions. Each vowel position keeps its original case: a vowel
    moving into a position that held an uppercase vowel becomes uppercase, into
    a lowercase position lowercase. Other characters stay where they are.

    >>> rotate_vowels("hello world", 1)
    'holle world'
    >>> rotate_vowels("Ice tea", 1)
    'Aci tee'
    """
''',
    r'''
    positions = [i for i, ch in enumerate(text) if ch.lower() in "aeiou"]
    if not positions:
        return text
    vowels = [text[i].lower() for i in positions]
    shift = k % len(vowels)
    vowels = vowels[len(vowels) - shift:] + vowels[:len(vowels) - shift]
    chars = list(text)
    for i, vowel in zip(positions, vowels):
        chars[i] = vowel.upper() if text[i].isupper() else vowel
    return "".join(chars)
''',
    r'''
from collections import deque

def rotate_vowels(text, k):
    found = deque(c.lower() for c in text if c in "aeiouAEIOU")
    found.rotate(k)
    out = []
    for c in text:
        if c in "aeiouAEIOU":
            v = found.popleft()
            out.append(v.upper() if c in "AEIOU" else v)
        else:
            out.append(c)
    return "".join(out)
''',
    r'''
    assert candidate("hello world", 1) == 'holle world'
    assert candidate("Ice tea", 1) == 'Aci tee'
    assert candidate("banana", 1) == 'banana'
    assert candidate("", 3) == ''
    assert candidate("rhythm", 2) == 'rhythm'
    assert candidate("aeiou", 2) == 'ouaei'
    assert candidate("aeiou", -1) == 'eioua'
    assert candidate("aeiou", 7) == 'ouaei'
    assert candidate("Aeiou", 1) == 'Uaeio'
    assert candidate("xAxEx", 1) == 'xExAx'
    assert candidate("Oi!", 0) == 'Oi!'
''',
)

# ---------------------------------------------------------------- 24
problem(
    "league_table",
    r'''
def league_table(results: list) -> list:
    """Each result is a string "<home> <goals>-<goals> <away>", for example
    "Ants 2-1 Bees" (team names are single words without spaces). A win is
    worth 3 points, a draw 1 point to each team, a loss 0. Return the names of
    all teams that played, ranked by points (most first), then by goal
    difference (goals scored minus goals conceded, larger first), then by goals
    scored (more first), then by name (plain string order, 'B' before 'a').

    >>> league_table(["Ants 2-1 Bees", "Bees 0-0 Cats"])
    ['Ants', 'Cats', 'Bees']
    >>> league_table([])
    []
    """
''',
    r'''
    table = {}
    for result in results:
        home, score, away = result.split()
        home_goals, away_goals = map(int, score.split("-"))
        for team, scored, conceded in ((home, home_goals, away_goals), (away, away_goals, home_goals)):
            points, difference, goals = table.get(team, (0, 0, 0))
            if scored > conceded:
                points += 3
            elif scored == conceded:
                points += 1
            table[team] = (points, difference + scored - conceded, goals + scored)
    return sorted(table, key=lambda team: (-table[team][0], -table[team][1], -table[team][2], team))
''',
    r'''
from functools import cmp_to_key

def league_table(results):
    pts, scored, against = {}, {}, {}
    for line in results:
        parts = line.split(" ")
        a, b = parts[0], parts[2]
        x, y = parts[1].split("-")
        x, y = int(x), int(y)
        for t in (a, b):
            pts.setdefault(t, 0)
            scored.setdefault(t, 0)
            against.setdefault(t, 0)
        scored[a] += x
        against[a] += y
        scored[b] += y
        against[b] += x
        if x > y:
            pts[a] += 3
        elif y > x:
            pts[b] += 3
        else:
            pts[a] += 1
            pts[b] += 1

    def compare(s, t):
        for key in (pts, None, scored):
            if key is None:
                u, v = scored[s] - against[s], scored[t] - against[t]
            else:
                u, v = key[s], key[t]
            if u != v:
                return -1 if u > v else 1
        return -1 if s < t else (1 if s > t else 0)

    return sorted(pts, key=cmp_to_key(compare))
''',
    r'''
    assert candidate(["Ants 2-1 Bees", "Bees 0-0 Cats"]) == ['Ants', 'Cats', 'Bees']
    assert candidate([]) == []
    assert candidate(["X 0-0 Y"]) == ['X', 'Y']
    assert candidate(["b 1-1 a"]) == ['a', 'b']
    assert candidate(["Z 1-1 a"]) == ['Z', 'a']
    assert candidate(["A 3-0 B", "B 1-0 C", "C 2-0 A"]) == ['A', 'C', 'B']
    assert candidate(["A 2-2 B", "C 1-1 D"]) == ['A', 'B', 'C', 'D']
    assert candidate(["P 10-0 Q", "Q 1-0 R", "R 1-0 P"]) == ['P', 'R', 'Q']
    assert candidate(["Owls 1-0 Yaks", "Yaks 1-0 Owls", "Owls 0-0 Yaks"]) == ['Owls', 'Yaks']
''',
)

# ---------------------------------------------------------------- 25
problem(
    "find_peaks",
    r'''
def find_peaks(heights: list) -> list:
    """A peak is a maximal run of one or more equal neighbouring values that is
    strictly higher than the value just before the run and the value just after
    it. A run that touches either end of the list is never a peak. Return the
    index of the first element of every peak, in increasing order.

    >>> find_peaks([1, 3, 2, 5, 5, 4])
    [1, 3]
    >>> find_peaks([1, 2, 2, 3])
    []
    """
''',
    r'''
    peaks = []
    i = 0
    n = len(heights)
    while i < n:
        j = i
        while j + 1 < n and heights[j + 1] == heights[i]:
            j += 1
        if i > 0 and j < n - 1 and heights[i - 1] < heights[i] > heights[j + 1]:
            peaks.append(i)
        i = j + 1
    return peaks
''',
    r'''
from itertools import groupby

def find_peaks(heights):
    runs = []
    start = 0
    for value, group in groupby(heights):
        size = len(list(group))
        runs.append((start, value))
        start += size
    return [runs[k][0] for k in range(1, len(runs) - 1) if runs[k - 1][1] < runs[k][1] and runs[k + 1][1] < runs[k][1]]
''',
    r'''
    assert candidate([1, 3, 2, 5, 5, 4]) == [1, 3]
    assert candidate([1, 2, 2, 3]) == []
    assert candidate([]) == []
    assert candidate([5]) == []
    assert candidate([1, 2]) == []
    assert candidate([3, 1, 3]) == []
    assert candidate([0, 1, 0, 1, 0]) == [1, 3]
    assert candidate([2, 2, 3, 3, 3, 1, 1]) == [2]
    assert candidate([1, 4, 4, 5, 2]) == [3]
    assert candidate([-1, 0, 0, -1, 7, 7]) == [1]
''',
)

# ---------------------------------------------------------------- 26
problem(
    "rarest_letter",
    r'''
def rarest_letter(text: str) -> str:
    """Count the letters a-z and A-Z in `text`, ignoring case ('A' counts as
    'a'; other characters, such as 'é', do not count). Among the letters that
    occur at least once, return in lowercase the one with the fewest
    occurrences; if several tie, return the one whose first occurrence comes
    earliest in the text. Return "" when `text` has no letter a-z or A-Z.

    >>> rarest_letter("Banana bread")
    'r'
    >>> rarest_letter("abcabc")
    'a'
    """
''',
    r'''
    counts = {}
    for ch in text:
        if ch.isascii() and ch.isalpha():
            counts[ch.lower()] = counts.get(ch.lower(), 0) + 1
    if not counts:
        return ""
    fewest = min(counts.values())
    for letter, count in counts.items():
        if count == fewest:
            return letter
''',
    r'''
import string

def rarest_letter(text):
    letters = [c.lower() for c in text if c in string.ascii_letters]
    if not letters:
        return ""
    return min(letters, key=lambda c: (letters.count(c), letters.index(c)))
''',
    r'''
    assert candidate("Banana bread") == 'r'
    assert candidate("abcabc") == 'a'
    assert candidate("") == ''
    assert candidate("123 !?") == ''
    assert candidate("Zz") == 'z'
    assert candidate("aAbBc") == 'c'
    assert candidate("xyzzyx q") == 'q'
    assert candidate("\u00e9\u00e9a") == 'a'
    assert candidate("mississippi") == 'm'
    assert candidate("bbAa!c C") == 'b'
    assert candidate("\u212a\u212ab") == 'b'
''',
)

# ---------------------------------------------------------------- 27
problem(
    "total_fare",
    r'''
def total_fare(ages: list, base: int) -> int:
    """Compute the fare of a group travelling together. Each passenger pays by
    age: under 5 pays nothing; 5 to 17 pays base // 2; 18 to 64 pays base; 65
    and over pays base // 3. If at least 10 passengers pay more than 0, the
    group gets a discount: the total becomes total - total // 10. Return the
    total.

    >>> total_fare([3, 10, 30, 70], 9)
    16
    >>> total_fare([30, 30, 30, 30, 30, 30, 30, 30, 30, 30], 10)
    90
    """
''',
    r'''
    fares = []
    for age in ages:
        if age < 5:
            fares.append(0)
        elif age < 18:
            fares.append(base // 2)
        elif age < 65:
            fares.append(base)
        else:
            fares.append(base // 3)
    total = sum(fares)
    if sum(1 for fare in fares if fare > 0) >= 10:
        total -= total // 10
    return total
''',
    r'''
def total_fare(ages, base):
    table = [(65, 3), (18, 1), (5, 2), (0, None)]
    total = 0
    payers = 0
    for age in ages:
        for low, div in table:
            if age >= low or low == 0:
                fare = 0 if div is None else base // div
                break
        total += fare
        payers += fare > 0
    return total - total // 10 if payers >= 10 else total
''',
    r'''
    assert candidate([3, 10, 30, 70], 9) == 16
    assert candidate([30] * 10, 10) == 90
    assert candidate([], 10) == 0
    assert candidate([4, 0, 2], 100) == 0
    assert candidate([5, 17, 18, 64, 65], 12) == 6 + 6 + 12 + 12 + 4
    assert candidate([30] * 9, 10) == 90
    assert candidate([10] * 10, 1) == 0
    assert candidate([70] * 10 + [2] * 5, 7) == 18
    assert candidate([20] * 10 + [10] * 2, 5) == 49
    assert candidate([30] * 10, 9) == 81
''',
)

# ---------------------------------------------------------------- 28
problem(
    "next_calm_number",
    r'''
def next_calm_number(n: int) -> int:
    """Return the smallest integer m >= n whose binary representation (without
    leading zeros) never has three equal bits in a row: it contains neither
    "000" nor "111". n is a non-negative integer; 0 (written "0") qualifies.

    >>> next_calm_number(7)
    9
    >>> next_calm_number(5)
    5
    """
''',
    r'''
    m = n
    while "000" in bin(m)[2:] or "111" in bin(m)[2:]:
        m += 1
    return m
''',
    r'''
def next_calm_number(n):
    def calm(x):
        if x < 4:
            return True
        while x >= 4:
            last3 = x & 7
            if last3 == 7 or last3 == 0:
                return False
            x >>= 1
        return True

    while not calm(n):
        n += 1
    return n
''',
    r'''
    assert candidate(7) == 9
    assert candidate(5) == 5
    assert candidate(0) == 0
    assert candidate(1) == 1
    assert candidate(3) == 3
    assert candidate(4) == 4
    assert candidate(8) == 9
    assert candidate(14) == 18
    assert candidate(15) == 18
    assert candidate(28) == 36
    assert candidate(1000) == 1170
''',
)

# ---------------------------------------------------------------- 29
problem(
    "run_ledger",
    r'''
def run_ledger(operations: list) -> tuple:
    """Simulate an account whose balance starts at 0. Each operation is a string:
    "dep X" adds the positive integer X; "wd X" takes X away only if the
    balance is at least X, otherwise the withdrawal is refused and nothing
    changes; "fee" takes 2 away if the balance is at least 2 and otherwise sets
    the balance to 0. Any other string is ignored. Return a tuple
    (final balance, number of refused withdrawals).

    >>> run_ledger(["dep 10", "wd 4", "wd 7", "fee"])
    (4, 1)
    >>> run_ledger(["fee", "wd 1"])
    (0, 1)
    """
''',
    r'''
    balance = 0
    refused = 0
    for operation in operations:
        parts = operation.split(" ")
        if operation == "fee":
            balance = balance - 2 if balance >= 2 else 0
        elif len(parts) == 2 and parts[0] == "dep":
            balance += int(parts[1])
        elif len(parts) == 2 and parts[0] == "wd":
            amount = int(parts[1])
            if balance >= amount:
                balance -= amount
            else:
                refused += 1
    return (balance, refused)
''',
    r'''
def run_ledger(operations):
    state = [0, 0]
    for op in operations:
        if op == "fee":
            state[0] = max(state[0] - 2, 0)
        elif op.startswith("dep "):
            state[0] += int(op[4:])
        elif op.startswith("wd "):
            x = int(op[3:])
            if x > state[0]:
                state[1] += 1
            else:
                state[0] -= x
    return tuple(state)
''',
    r'''
    assert candidate(["dep 10", "wd 4", "wd 7", "fee"]) == (4, 1)
    assert candidate(["fee", "wd 1"]) == (0, 1)
    assert candidate([]) == (0, 0)
    assert candidate(["dep 1", "fee"]) == (0, 0)
    assert candidate(["dep 2", "fee"]) == (0, 0)
    assert candidate(["dep 5", "wd 5", "wd 1"]) == (0, 1)
    assert candidate(["dep 3", "bonus 100", "wd 2"]) == (1, 0)
    assert candidate(["wd 3", "wd 3", "dep 3", "wd 3"]) == (0, 2)
    assert candidate(["dep 100", "fee", "fee", "wd 97"]) == (96, 1)
''',
)

# ---------------------------------------------------------------- 30
problem(
    "block_swaps",
    r'''
def block_swaps(bits: str) -> int:
    """`bits` is a string of '0' and '1' characters. One move swaps two
    neighbouring characters. Return the smallest number of moves after which
    the '1's form one contiguous block or the '0's form one contiguous block
    (either will do). A string that already has one of them contiguous (for
    example "", "0110" or "1001") needs 0 moves.

    >>> block_swaps("10101")
    1
    >>> block_swaps("0101010")
    2
    """
''',
    r'''
    def cost(ch):
        positions = [i for i, c in enumerate(bits) if c == ch]
        shifted = [p - k for k, p in enumerate(positions)]
        if not shifted:
            return 0
        middle = shifted[len(shifted) // 2]
        return sum(abs(s - middle) for s in shifted)

    return min(cost("1"), cost("0"))
''',
    r'''
from collections import deque

def block_swaps(bits):
    def grouped(s):
        return "0" not in s.strip("0") or "1" not in s.strip("1")

    seen = {bits: 0}
    queue = deque([bits])
    while queue:
        s = queue.popleft()
        if grouped(s):
            return seen[s]
        for i in range(len(s) - 1):
            if s[i] != s[i + 1]:
                t = s[:i] + s[i + 1] + s[i] + s[i + 2:]
                if t not in seen:
                    seen[t] = seen[s] + 1
                    queue.append(t)
''',
    r'''
    assert candidate("10101") == 1
    assert candidate("0101010") == 2
    assert candidate("") == 0
    assert candidate("0000") == 0
    assert candidate("1") == 0
    assert candidate("1001") == 0
    assert candidate("1100011") == 0
    assert candidate("110100011") == 1
    assert candidate("0110110") == 2
    assert candidate("1010") == 1
    assert candidate("0101101010") == 4
''',
)

# ---------------------------------------------------------------- 31
problem(
    "grid_peaks",
    r'''
def grid_peaks(grid: list) -> list:
    """Return the positions (row, column) of the cells of a rectangular grid
    whose value is strictly greater than the value of each of its neighbours:
    up, down, left and right (cells on the edge have fewer neighbours, and a
    cell with no neighbours at all counts). Positions are tuples, listed in
    row-major order.

    >>> grid_peaks([[1, 2], [4, 3]])
    [(1, 0)]
    >>> grid_peaks([[5, 5]])
    []
    """
''',
    r'''
    peaks = []
    for r, row in enumerate(grid):
        for c, value in enumerate(row):
            neighbours = []
            for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
                rr, cc = r + dr, c + dc
                if 0 <= rr < len(grid) and 0 <= cc < len(row):
                    neighbours.append(grid[rr][cc])
            if all(value > other for other in neighbours):
                peaks.append((r, c))
    return peaks
''',
    r'''
def grid_peaks(grid):
    if not grid or not grid[0]:
        return []
    low = min(min(row) for row in grid) - 1
    width = len(grid[0])
    padded = [[low] * (width + 2)] + [[low] + list(row) + [low] for row in grid] + [[low] * (width + 2)]
    found = []
    for r in range(1, len(grid) + 1):
        for c in range(1, width + 1):
            v = padded[r][c]
            if v > padded[r - 1][c] and v > padded[r + 1][c] and v > padded[r][c - 1] and v > padded[r][c + 1]:
                found.append((r - 1, c - 1))
    return found
''',
    r'''
    assert candidate([[1, 2], [4, 3]]) == [(1, 0)]
    assert candidate([[5, 5]]) == []
    assert candidate([]) == []
    assert candidate([[7]]) == [(0, 0)]
    assert candidate([[-3]]) == [(0, 0)]
    assert candidate([[1, 0, 1]]) == [(0, 0), (0, 2)]
    assert candidate([[0], [2], [1]]) == [(1, 0)]
    assert candidate([[1, 2, 1], [2, 9, 2], [1, 2, 1]]) == [(1, 1)]
    assert candidate([[3, 1, 3], [1, 0, 1], [3, 1, 3]]) == [(0, 0), (0, 2), (2, 0), (2, 2)]
    assert candidate([[2, 2], [2, 2]]) == []
''',
)

# ---------------------------------------------------------------- 32
problem(
    "finish_time",
    r'''
def finish_time(durations: list, workers: int) -> int:
    """Tasks are handed out in the given order to `workers` identical workers
    (workers >= 1), all free at time 0. Each task goes to the worker who is free
    the earliest (ties go to the lowest-numbered worker), who starts it at once
    and works on it for its duration (a non-negative integer). Return the time
    at which the last task finishes; 0 when there are no tasks.

    >>> finish_time([4, 2, 3], 2)
    5
    >>> finish_time([1, 1, 1], 5)
    1
    """
''',
    r'''
    import heapq

    free_at = [(0, worker) for worker in range(workers)]
    heapq.heapify(free_at)
    end = 0
    for duration in durations:
        start, worker = heapq.heappop(free_at)
        heapq.heappush(free_at, (start + duration, worker))
        end = max(end, start + duration)
    return end
''',
    r'''
def finish_time(durations, workers):
    busy_until = [0] * workers
    for d in durations:
        w = busy_until.index(min(busy_until))
        busy_until[w] += d
    return max(busy_until) if durations else 0
''',
    r'''
    assert candidate([4, 2, 3], 2) == 5
    assert candidate([1, 1, 1], 5) == 1
    assert candidate([], 3) == 0
    assert candidate([7], 1) == 7
    assert candidate([1, 2, 3, 4], 1) == 10
    assert candidate([5, 1, 1, 1, 1, 1], 2) == 5
    assert candidate([0, 0, 0], 2) == 0
    assert candidate([3, 3, 3, 3, 3], 2) == 9
    assert candidate([2, 8, 2, 2, 2, 2], 3) == 8
    assert candidate([10, 1, 1, 10], 2) == 12
''',
)

# ---------------------------------------------------------------- 33
problem(
    "runoff_winner",
    r'''
def runoff_winner(ballots: list) -> str:
    """Each ballot is a list of candidate names in order of preference (no name
    twice on one ballot). The candidates are all names that appear on any
    ballot. Rounds are held: each ballot counts for its most preferred candidate
    still in the race (a ballot naming none of them counts for nobody). If a
    candidate has more than half of the ballots counted in that round, that
    candidate wins. Otherwise the candidate with the fewest votes is eliminated
    (a candidate may have 0 votes); if several tie for fewest, the one that
    comes last in plain string order is eliminated. When only one candidate is
    left, that candidate wins. Return the winner, or "" when there are no
    candidates.

    >>> runoff_winner([["ann", "bob"], ["bob"], ["cy", "ann"]])
    'ann'
    >>> runoff_winner([])
    ''
    """
''',
    r'''
    remaining = {name for ballot in ballots for name in ballot}
    while remaining:
        votes = {name: 0 for name in remaining}
        counted = 0
        for ballot in ballots:
            for name in ballot:
                if name in remaining:
                    votes[name] += 1
                    counted += 1
                    break
        leader = max(votes, key=lambda name: votes[name])
        if len(remaining) == 1 or 2 * votes[leader] > counted:
            return leader
        fewest = min(votes.values())
        remaining.remove(max(name for name in remaining if votes[name] == fewest))
    return ""
''',
    r'''
from collections import Counter

def runoff_winner(ballots):
    alive = sorted(set(n for b in ballots for n in b))
    if not alive:
        return ""

    def rounds(alive):
        if len(alive) == 1:
            return alive[0]
        tops = Counter()
        for b in ballots:
            choice = next((n for n in b if n in alive), None)
            if choice is not None:
                tops[choice] += 1
        total = sum(tops.values())
        for n in alive:
            if tops[n] * 2 > total:
                return n
        order = sorted(alive, key=lambda n: (tops[n], [-ord(c) for c in n] + [1]))
        loser = order[0]
        return rounds([n for n in alive if n != loser])

    return rounds(alive)
''',
    r'''
    assert candidate([["ann", "bob"], ["bob"], ["cy", "ann"]]) == 'ann'
    assert candidate([]) == ''
    assert candidate([[]]) == ''
    assert candidate([["x"]]) == 'x'
    assert candidate([["a"], ["b"]]) == 'a'
    assert candidate([["b"], ["a"], ["b"]]) == 'b'
    assert candidate([["a", "z"], ["b", "z"], ["z"], ["z"]]) == 'z'
    assert candidate([["a"], ["b", "c"], ["c", "b"], ["c"], ["d", "a"]]) == 'c'
    assert candidate([["p", "q"], ["q", "p"], ["r", "q"]]) == 'q'
    assert candidate([["ab", "a"], ["a", "ab"]]) == 'a'
''',
)

# ---------------------------------------------------------------- 34
problem(
    "first_echo",
    r'''
def first_echo(text: str, k: int) -> int:
    """Return the smallest index i such that the piece text[i:i+k] of length k
    occurs again in `text` at some index j > i (the two occurrences may
    overlap). Return -1 when there is no such piece. k is at least 1.

    >>> first_echo("abcab", 2)
    0
    >>> first_echo("aaa", 2)
    0
    >>> first_echo("abcd", 1)
    -1
    """
''',
    r'''
    for i in range(len(text) - k + 1):
        if text.find(text[i:i + k], i + 1) != -1:
            return i
    return -1
''',
    r'''
def first_echo(text, k):
    starts = {}
    for i in range(len(text) - k + 1):
        starts.setdefault(text[i:i + k], []).append(i)
    repeated = [positions[0] for positions in starts.values() if len(positions) > 1]
    return min(repeated) if repeated else -1
''',
    r'''
    assert candidate("abcab", 2) == 0
    assert candidate("aaa", 2) == 0
    assert candidate("abcd", 1) == -1
    assert candidate("", 1) == -1
    assert candidate("ab", 3) == -1
    assert candidate("aa", 2) == -1
    assert candidate("xabab", 2) == 1
    assert candidate("abcdbc", 2) == 1
    assert candidate("abcxyzabc", 3) == 0
    assert candidate("zzabcabc", 3) == 2
''',
)

# ---------------------------------------------------------------- 35
problem(
    "min_hop_cost",
    r'''
def min_hop_cost(heights: list) -> int:
    """A frog starts on stone 0 and must reach the last stone. From stone i it
    may jump to stone i + 1, i + 2 or i + 3. A jump from stone i to stone j costs
    abs(heights[i] - heights[j]) + (j - i - 1), that is, one extra for every
    stone jumped over. Return the smallest total cost; 0 when there are fewer
    than two stones.

    >>> min_hop_cost([1, 5, 2])
    2
    >>> min_hop_cost([0, 9, 9, 0])
    2
    """
''',
    r'''
    n = len(heights)
    if n < 2:
        return 0
    cost = [0] + [None] * (n - 1)
    for j in range(1, n):
        cost[j] = min(cost[i] + abs(heights[i] - heights[j]) + (j - i - 1) for i in range(max(0, j - 3), j))
    return cost[-1]
''',
    r'''
def min_hop_cost(heights):
    n = len(heights)
    best = [None]

    def go(i, spent):
        if i == n - 1:
            if best[0] is None or spent < best[0]:
                best[0] = spent
            return
        for step in (1, 2, 3):
            j = i + step
            if j < n:
                go(j, spent + abs(heights[i] - heights[j]) + step - 1)

    if n < 2:
        return 0
    go(0, 0)
    return best[0]
''',
    r'''
    assert candidate([1, 5, 2]) == 2
    assert candidate([0, 9, 9, 0]) == 2
    assert candidate([]) == 0
    assert candidate([4]) == 0
    assert candidate([3, 8]) == 5
    assert candidate([1, 1, 1, 1, 1]) == 0
    assert candidate([0, 10, 10, 10, 0]) == 20
    assert candidate([5, 0, 5, 0, 5, 0, 5]) == 3
    assert candidate([1, 2, 3, 4, 5, 6]) == 5
    assert candidate([0, 100, 1, 100, 2]) == 4
''',
)

# ---------------------------------------------------------------- 36
problem(
    "first_fit",
    r'''
def first_fit(weights: list, capacity: int) -> list:
    """Pack items into bins of the given capacity, in the order given: each item
    goes into the lowest-numbered bin that still has room for it (its load plus
    the item must not exceed `capacity`), and a new bin is opened when no bin
    has room. Every weight is between 1 and `capacity`. Return the final load of
    every bin, in the order the bins were opened.

    >>> first_fit([4, 8, 1, 4, 2, 1], 10)
    [10, 10]
    >>> first_fit([6, 6, 6], 10)
    [6, 6, 6]
    """
''',
    r'''
    loads = []
    for weight in weights:
        for b, load in enumerate(loads):
            if load + weight <= capacity:
                loads[b] += weight
                break
        else:
            loads.append(weight)
    return loads
''',
    r'''
def first_fit(weights, capacity):
    bins = []
    for w in weights:
        room = [b for b in range(len(bins)) if sum(bins[b]) + w <= capacity]
        if room:
            bins[room[0]].append(w)
        else:
            bins.append([w])
    return [sum(b) for b in bins]
''',
    r'''
    assert candidate([4, 8, 1, 4, 2, 1], 10) == [10, 10]
    assert candidate([6, 6, 6], 10) == [6, 6, 6]
    assert candidate([], 5) == []
    assert candidate([5], 5) == [5]
    assert candidate([1, 1, 1, 1], 2) == [2, 2]
    assert candidate([3, 7, 3, 7], 10) == [10, 10]
    assert candidate([2, 5, 4, 7, 1, 3, 8], 10) == [8, 7, 7, 8]
    assert candidate([9, 1, 9, 1], 10) == [10, 10]
    assert candidate([1, 1, 1, 1, 1], 3) == [3, 2]
    assert candidate([4, 4, 4, 4, 4], 9) == [8, 8, 4]
''',
)

# ---------------------------------------------------------------- 37
problem(
    "shift_by_position",
    r'''
def shift_by_position(text: str) -> str:
    """Words are the maximal runs of characters other than the space ' '. In the
    n-th word (counting from 1), every letter a-z or A-Z is shifted n places
    forward in the alphabet, wrapping around from z to a and keeping its case;
    all other characters, and all spaces, stay as they are.

    >>> shift_by_position("abc xyz")
    'bcd zab'
    >>> shift_by_position("Hi, yo!")
    'Ij, aq!'
    """
''',
    r'''
    out = []
    number = 0
    in_word = False
    for ch in text:
        if ch == " ":
            in_word = False
            out.append(ch)
            continue
        if not in_word:
            in_word = True
            number += 1
        if "a" <= ch <= "z":
            out.append(chr((ord(ch) - ord("a") + number) % 26 + ord("a")))
        elif "A" <= ch <= "Z":
            out.append(chr((ord(ch) - ord("A") + number) % 26 + ord("A")))
        else:
            out.append(ch)
    return "".join(out)
''',
    r'''
import string

def shift_by_position(text):
    pieces = text.split(" ")
    n = 0
    result = []
    for piece in pieces:
        if piece:
            n += 1
            s = n % 26
            lower, upper = string.ascii_lowercase, string.ascii_uppercase
            table = str.maketrans(lower + upper, lower[s:] + lower[:s] + upper[s:] + upper[:s])
            piece = piece.translate(table)
        result.append(piece)
    return " ".join(result)
''',
    r'''
    assert candidate("abc xyz") == 'bcd zab'
    assert candidate("Hi, yo!") == 'Ij, aq!'
    assert candidate("") == ''
    assert candidate("   ") == '   '
    assert candidate("Zz") == 'Aa'
    assert candidate("  a  a  ") == '  b  c  '
    assert candidate("1a2 b3") == '1b2 d3'
    assert candidate("a\tb c") == 'b\tc e'
    assert candidate(" ".join(["a"] * 27)) == " ".join([chr(ord("a") + (n % 26)) for n in range(1, 28)])
    assert candidate("\u00e9a b") == '\u00e9b d'
''',
)

# ---------------------------------------------------------------- 38
problem(
    "short_duration",
    r'''
def short_duration(seconds: int) -> str:
    """Write a number of seconds (>= 0) briefly, using the units d (86400
    seconds), h (3600), m (60) and s (1). Split the number into days, hours,
    minutes and seconds (hours < 24, minutes < 60, seconds < 60), keep only the
    two largest units whose count is not 0 (what the others hold is dropped,
    not rounded), and write each as its count followed by its letter, largest
    first, separated by a single space. 0 seconds is written "0s".

    >>> short_duration(3725)
    '1h 2m'
    >>> short_duration(86401)
    '1d 1s'
    >>> short_duration(59)
    '59s'
    """
''',
    r'''
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append("%d%s" % (count, unit))
    return " ".join(parts[:2]) or "0s"
''',
    r'''
def short_duration(seconds):
    if seconds == 0:
        return "0s"
    s = seconds % 60
    m = seconds // 60 % 60
    h = seconds // 3600 % 24
    d = seconds // 86400
    shown = []
    for v, u in ((d, "d"), (h, "h"), (m, "m"), (s, "s")):
        if v > 0 and len(shown) < 2:
            shown.append(str(v) + u)
    return " ".join(shown)
''',
    r'''
    assert candidate(3725) == '1h 2m'
    assert candidate(86401) == '1d 1s'
    assert candidate(59) == '59s'
    assert candidate(0) == '0s'
    assert candidate(60) == '1m'
    assert candidate(3600) == '1h'
    assert candidate(86400) == '1d'
    assert candidate(90061) == '1d 1h'
    assert candidate(10 * 86400 + 3 * 60 + 7) == '10d 3m'
    assert candidate(86399) == '23h 59m'
    assert candidate(61) == '1m 1s'
''',
)

# ---------------------------------------------------------------- 39
problem(
    "count_routes",
    r'''
def count_routes(rows: int, cols: int, blocked: list) -> int:
    """Count the routes from the top-left cell (0, 0) to the bottom-right cell
    (rows - 1, cols - 1) of a grid with `rows` rows and `cols` columns (both at
    least 1), where each step moves one cell right, one cell down, or one cell
    diagonally down-right, and no step may enter a blocked cell. `blocked` lists
    blocked cells as [row, col] pairs; pairs outside the grid are ignored. If
    the start or the end cell is blocked, return 0. A 1x1 grid whose only cell
    is free has exactly one route (no steps).

    >>> count_routes(2, 2, [])
    3
    >>> count_routes(2, 2, [[0, 1]])
    2
    """
''',
    r'''
    walls = {(r, c) for r, c in blocked}
    ways = [[0] * cols for _ in range(rows)]
    for r in range(rows):
        for c in range(cols):
            if (r, c) in walls:
                continue
            if r == 0 and c == 0:
                ways[r][c] = 1
                continue
            up = ways[r - 1][c] if r > 0 else 0
            left = ways[r][c - 1] if c > 0 else 0
            diagonal = ways[r - 1][c - 1] if r > 0 and c > 0 else 0
            ways[r][c] = up + left + diagonal
    return ways[rows - 1][cols - 1]
''',
    r'''
def count_routes(rows, cols, blocked):
    bad = set(map(tuple, blocked))

    def walk(r, c):
        if r >= rows or c >= cols or (r, c) in bad:
            return 0
        if (r, c) == (rows - 1, cols - 1):
            return 1
        return walk(r + 1, c) + walk(r, c + 1) + walk(r + 1, c + 1)

    return walk(0, 0)
''',
    r'''
    assert candidate(2, 2, []) == 3
    assert candidate(2, 2, [[0, 1]]) == 2
    assert candidate(1, 1, []) == 1
    assert candidate(1, 1, [[0, 0]]) == 0
    assert candidate(3, 3, [[2, 2]]) == 0
    assert candidate(1, 5, []) == 1
    assert candidate(1, 5, [[0, 2]]) == 0
    assert candidate(3, 3, []) == 13
    assert candidate(3, 3, [[1, 1]]) == 4
    assert candidate(3, 4, [[5, 5], [-1, 0]]) == 25
    assert candidate(4, 4, [[1, 2], [2, 1]]) == 13
''',
)

# ---------------------------------------------------------------- 40
problem(
    "three_way_split",
    r'''
def three_way_split(nums: list) -> int:
    """Cut `nums` into three non-empty consecutive parts and return the smallest
    possible value of (largest part sum - smallest part sum) over all ways to
    cut. The numbers may be negative. Return -1 when `nums` has fewer than three
    elements.

    >>> three_way_split([1, 2, 3, 4, 5, 6])
    3
    >>> three_way_split([4, 4, 4])
    0
    """
''',
    r'''
    n = len(nums)
    if n < 3:
        return -1
    prefix = [0]
    for x in nums:
        prefix.append(prefix[-1] + x)
    best = None
    for i in range(1, n - 1):
        for j in range(i + 1, n):
            parts = (prefix[i], prefix[j] - prefix[i], prefix[n] - prefix[j])
            spread = max(parts) - min(parts)
            if best is None or spread < best:
                best = spread
    return best
''',
    r'''
from itertools import combinations

def three_way_split(nums):
    if len(nums) < 3:
        return -1
    spreads = []
    for i, j in combinations(range(1, len(nums)), 2):
        sums = [sum(nums[:i]), sum(nums[i:j]), sum(nums[j:])]
        spreads.append(max(sums) - min(sums))
    return min(spreads)
''',
    r'''
    assert candidate([1, 2, 3, 4, 5, 6]) == 3
    assert candidate([4, 4, 4]) == 0
    assert candidate([]) == -1
    assert candidate([1, 2]) == -1
    assert candidate([1, 2, 3]) == 2
    assert candidate([0, 0, 0, 0]) == 0
    assert candidate([10, 1, 1, 1]) == 9
    assert candidate([-1, 5, -1, 2, 2]) == 1
    assert candidate([3, 3, 3, 3, 3, 3]) == 0
    assert candidate([1, 1, 1, 1, 1, 1, 1]) == 1
''',
)

# ---------------------------------------------------------------- 41
problem(
    "run_stack",
    r'''
def run_stack(program: str):
    """Run a tiny stack program whose tokens are separated by whitespace. A token
    made of an optional '-' followed by one or more digits 0-9 pushes that
    integer. "+", "-"
    and "*" pop b, then pop a, and push a + b, a - b or a * b. "dup" pushes a
    copy of the top value, "swap" exchanges the top two values, "drop" removes
    the top value. If an operation needs more values than the stack holds, or a
    token is none of these, return None at once. Otherwise return the value on
    top of the stack at the end, or None if the stack is then empty.

    >>> run_stack("3 4 + 2 *")
    14
    >>> run_stack("5 1 swap -")
    -4
    >>> run_stack("1 +")
    None
    """
''',
    r'''
    import re

    needs = {"+": 2, "-": 2, "*": 2, "dup": 1, "swap": 2, "drop": 1}
    stack = []
    for token in program.split():
        if re.fullmatch(r"-?[0-9]+", token):
            stack.append(int(token))
            continue
        if token not in needs or len(stack) < needs[token]:
            return None
        if token == "dup":
            stack.append(stack[-1])
        elif token == "drop":
            stack.pop()
        elif token == "swap":
            stack[-1], stack[-2] = stack[-2], stack[-1]
        else:
            b, a = stack.pop(), stack.pop()
            stack.append(a + b if token == "+" else a - b if token == "-" else a * b)
    return stack[-1] if stack else None
''',
    r'''
def run_stack(program):
    def number(tok):
        body = tok[1:] if tok[:1] == "-" else tok
        return len(body) > 0 and all("0" <= ch <= "9" for ch in body)

    st = []
    try:
        for tok in program.split():
            if number(tok):
                st = st + [int(tok)]
            elif tok in ("+", "-", "*"):
                if len(st) < 2:
                    raise IndexError
                a, b = st[-2], st[-1]
                st = st[:-2] + [{"+": a + b, "-": a - b, "*": a * b}[tok]]
            elif tok == "dup":
                st = st + [st[-1]]
            elif tok == "swap":
                if len(st) < 2:
                    raise IndexError
                st = st[:-2] + [st[-1], st[-2]]
            elif tok == "drop":
                if not st:
                    raise IndexError
                st = st[:-1]
            else:
                return None
    except IndexError:
        return None
    return st[-1] if st else None
''',
    r'''
    assert candidate("3 4 + 2 *") == 14
    assert candidate("5 1 swap -") == -4
    assert candidate("1 +") == None
    assert candidate("") == None
    assert candidate("7") == 7
    assert candidate("-3 dup *") == 9
    assert candidate("2 drop") == None
    assert candidate("drop") == None
    assert candidate("1 2 3 drop drop") == 1
    assert candidate("4 --5") == None
    assert candidate("4 five +") == None
    assert candidate("10 -2 -") == 12
    assert candidate("  6\n7\t* ") == 42
''',
)


def render() -> str:
    """The JSONL text of every problem, one line each."""
    return "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in PROBLEMS)


def main() -> int:
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(render(), encoding="utf-8")
    print("wrote %d problems to %s" % (len(PROBLEMS), OUTPUT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
