"""Process-wide speed settings: freed memory kept by the allocator, CPU threads chosen by the clock."""

from __future__ import annotations

import platform
import resource
import subprocess
import sys
from types import SimpleNamespace

import pytest
import torch

from ganforge.callbacks import AdaptiveThreads
from ganforge.callbacks import threads as threads_module
from ganforge.errors import ConfigError
from ganforge.runtime import keep_freed_memory
from ganforge.training import apply_run_settings

GLIBC = platform.libc_ver()[0] == "glibc"


FAULTS_OF_REUSE = """
import resource, sys, torch
from ganforge.runtime import keep_freed_memory
assert keep_freed_memory(sys.argv[1] == "keep")
for _ in range(10):  # warm-up: the first 4 MB activations, freed; the heap grown, the thread pool started
    torch.ones(1024, 1024)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    torch.ones(1024, 1024)  # the same activation, batch after batch
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(not GLIBC, reason="the allocator settings are glibc's")
def test_kept_memory_is_reused_without_page_faults():
    def page_faults(setting: str) -> int:
        result = subprocess.run([sys.executable, "-c", FAULTS_OF_REUSE, setting], capture_output=True, text=True, check=True)
        return int(result.stdout.split()[-1])

    pages = 4 * 1024**2 // resource.getpagesize()
    assert page_faults("default") >= 20 * pages  # every batch's tensor is mapped and zero-filled anew
    # the first block is handed out again: at most one batch in the 20 is mapped anew (one was, once, in a CI run)
    assert page_faults("keep") < 2 * pages


class Clock:
    """perf_counter for the callback: a batch takes `seconds[threads]` of the thread count in force."""

    def __init__(self, seconds: dict[int, float]) -> None:
        self.seconds, self.now, self.running = seconds, 0.0, False

    def __call__(self) -> float:
        if self.running:
            self.now += self.seconds[torch.get_num_threads()]
        self.running = not self.running
        return self.now


def run_batches(callback: AdaptiveThreads, batches: int, first: int = 0) -> list[int]:
    """Drive the callback's hooks over `batches` batches (the run's batches `first`…); the thread count of each."""
    trainer = SimpleNamespace(fit_loop=SimpleNamespace(epoch_loop=SimpleNamespace(total_batch_idx=0)))
    used = []
    for index in range(first, first + batches):
        trainer.fit_loop.epoch_loop.total_batch_idx = index
        callback.on_train_batch_start(trainer, None, None, index)
        used.append(torch.get_num_threads())
        callback.on_train_batch_end(trainer, None, None, None, index)
    return used


@pytest.fixture
def two_threads():
    found = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(found)


@pytest.mark.parametrize(("seconds", "chosen"), [({2: 0.2, 1: 0.3}, 2), ({2: 0.5, 1: 0.3}, 1)], ids=["idle", "busy"])
def test_adaptive_threads_trains_on_the_faster_thread_count(two_threads, monkeypatch, seconds, chosen):
    monkeypatch.setattr(threads_module.time, "perf_counter", Clock(seconds))
    callback = AdaptiveThreads(every_n_batches=40, probe_batches=4)
    callback.on_train_start(None, SimpleNamespace(device=torch.device("cpu")))
    used = run_batches(callback, 60)
    # 3 warm-up batches and 4 timed on 2 threads, 1 settling and 4 timed on 1, then the faster one until the next probe
    assert used[:7] == [2] * 7 and used[7:12] == [1] * 5
    assert callback.first_choice_batch == 12
    assert used[12:43] == [chosen] * 31
    assert callback.state_dict() == {"threads": chosen}
    callback.on_train_end(None, None)
    assert torch.get_num_threads() == 2


def test_adaptive_threads_follows_the_machine_as_it_changes(two_threads, monkeypatch):
    clock = Clock({2: 0.5, 1: 0.3})  # busy at first
    monkeypatch.setattr(threads_module.time, "perf_counter", clock)
    callback = AdaptiveThreads(every_n_batches=40, probe_batches=4)
    callback.on_train_start(None, SimpleNamespace(device=torch.device("cpu")))
    assert run_batches(callback, 40)[-1] == 1
    clock.seconds = {2: 0.2, 1: 0.3}  # the competitor has gone: the next probe tries 2 threads again
    used = run_batches(callback, 40, first=40)
    assert used[-1] == 2 and torch.get_num_threads() == 2


def test_adaptive_threads_resumes_on_the_saved_choice_and_keeps_a_fixed_count(two_threads):
    resumed = AdaptiveThreads()
    resumed.load_state_dict({"threads": 1})
    resumed.on_train_start(None, SimpleNamespace(device=torch.device("cpu")))
    assert torch.get_num_threads() == 1 and resumed.state_dict() == {"threads": 1}
    resumed.on_train_end(None, None)
    fixed = AdaptiveThreads(fixed_threads=2)
    fixed.on_train_start(None, SimpleNamespace(device=torch.device("cpu")))
    assert fixed.choices is None and fixed.state_dict() == {}


def test_adaptive_threads_refuses_a_period_too_short_for_its_probes():
    with pytest.raises(ConfigError, match="adaptive_threads.every_n_batches must exceed"):
        AdaptiveThreads(every_n_batches=10, probe_batches=4)


def test_keep_freed_memory_must_be_true_or_false(compose_config):
    with pytest.raises(ConfigError, match="keep_freed_memory must be true or false, got 'abc'"):
        apply_run_settings(compose_config(["keep_freed_memory=abc"]))
