"""The SQLite response cache: hits, misses, sample indexes, bypass."""

from __future__ import annotations

import asyncio

from assay.models import CachedModel, GenerationParams, Message, ResponseCache, generate_sync
from assay.models.base import Completion, Usage


class CountingModel:
    """Numbered replies, so every fresh generation is recognisable."""

    name = "counting"

    def __init__(self) -> None:
        self.generated = 0
        self.calls: list[GenerationParams] = []

    async def generate(self, messages, params):
        self.calls.append(params)
        completions = []
        for index in range(params.n):
            self.generated += 1
            completions.append(Completion(f"reply {self.generated} seed={params.seed_for(index)}", "stop", Usage(7, 3)))
        return completions


PARAMS = GenerationParams(temperature=0.8, seed=10)


def test_a_rerun_costs_nothing_and_gives_the_same_answers(tmp_path):
    db = tmp_path / "responses.sqlite"
    first_model = CountingModel()
    first = generate_sync(CachedModel(first_model, ResponseCache(db)), "write f", PARAMS.replace(n=3))
    assert first_model.generated == 3 and not any(c.cached for c in first)

    rerun_model = CountingModel()
    rerun = generate_sync(CachedModel(rerun_model, ResponseCache(db)), "write f", PARAMS.replace(n=3))
    assert rerun_model.generated == 0
    assert [c.text for c in rerun] == [c.text for c in first]
    assert all(c.cached for c in rerun)
    assert rerun[0].usage == Usage(7, 3)  # original usage, so budgets spend the same way


def test_asking_for_more_samples_generates_only_the_new_ones(tmp_path):
    db = tmp_path / "responses.sqlite"
    generate_sync(CachedModel(CountingModel(), ResponseCache(db)), "write f", PARAMS.replace(n=2))
    inner = CountingModel()
    more = generate_sync(CachedModel(inner, ResponseCache(db)), "write f", PARAMS.replace(n=5))
    assert inner.generated == 3
    assert [c.cached for c in more] == [True, True, False, False, False]
    assert inner.calls[0].seed == 12  # sample 2 has seed 10 + 2, as it would have had in one call
    assert more[2].text.endswith("seed=12")


def test_repeated_identical_requests_get_fresh_samples_within_a_run(tmp_path):
    model = CachedModel(CountingModel(), ResponseCache(tmp_path / "c.sqlite"))
    one = generate_sync(model, "write f", PARAMS)
    two = generate_sync(model, "write f", PARAMS)
    assert one[0].text != two[0].text
    model.reset_sample_counters()  # as a new run would start
    assert generate_sync(model, "write f", PARAMS)[0].text == one[0].text


def test_anything_that_shapes_a_sample_changes_the_key(tmp_path):
    inner = CountingModel()
    model = CachedModel(inner, ResponseCache(tmp_path / "c.sqlite"))
    generate_sync(model, "write f", PARAMS)
    for prompt, params in [
        ("write g", PARAMS),
        ([Message.system("terse"), Message.user("write f")], PARAMS),
        ("write f", PARAMS.replace(temperature=0.2)),
        ("write f", PARAMS.replace(max_tokens=100)),
        ("write f", PARAMS.replace(stop=("\n",))),
        ("write f", PARAMS.replace(seed=11)),
    ]:
        model.reset_sample_counters()
        before = inner.generated
        generate_sync(model, prompt, params)
        assert inner.generated == before + 1, (prompt, params)


def test_the_model_name_is_part_of_the_key(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite")
    generate_sync(CachedModel(CountingModel(), cache), "write f", PARAMS)
    other = CountingModel()
    other.name = "another-model"
    generate_sync(CachedModel(other, cache), "write f", PARAMS)
    assert other.generated == 1 and len(cache) == 2


def test_no_cache_bypasses_reads(tmp_path):
    db = tmp_path / "c.sqlite"
    generate_sync(CachedModel(CountingModel(), ResponseCache(db)), "write f", PARAMS)
    inner = CountingModel()
    bypass = CachedModel(inner, ResponseCache(db), read=False, write=False)
    [fresh] = generate_sync(bypass, "write f", PARAMS)
    assert inner.generated == 1 and not fresh.cached
    assert len(ResponseCache(db)) == 1


def test_hit_and_miss_counters_and_concurrent_use(tmp_path):
    model = CachedModel(CountingModel(), ResponseCache(tmp_path / "c.sqlite"))

    async def many():
        return await asyncio.gather(*(model.generate([Message.user(f"task {i % 3}")], PARAMS) for i in range(9)))

    asyncio.run(many())
    assert (model.hits, model.misses) == (0, 9)
    model.reset_sample_counters()
    asyncio.run(many())
    assert (model.hits, model.misses) == (9, 9)


def test_clear_and_reopen(tmp_path):
    db = tmp_path / "c.sqlite"
    cache = ResponseCache(db)
    generate_sync(CachedModel(CountingModel(), cache), "write f", PARAMS.replace(n=2))
    cache.close()
    reopened = ResponseCache(db)
    assert len(reopened) == 2
    reopened.clear(model="counting")
    assert len(reopened) == 0
