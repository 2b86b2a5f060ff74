"""Grades come from outcomes, judged outside the process that ran student code.

Each attack here is of a kind, not one trick: it makes the worker (the process that runs student
code) report something other than what the code computed, or it builds objects that look trained
without training them. None of them may earn more than the code itself earns, and each gets a reason.
* what the worker reports about an output: tensor subclasses that lie about themselves, containers
  whose methods lie, definition-time patches to the kit's modules, builtins, `json`, torch and the
  serializer, and a forged payload written straight to the worker's pipe;
* gradients: functions that return the right values but cut the gradient training needs;
* trainers: a trainer assembled without its constructor, a counter set by hand, a model whose forward
  is a keyword rule, a policy changed after training, a training run that never happened;
* the loop: a reference run with gradients while `torch.is_grad_enabled` lies to the recorders.
Valid ways of writing the cells (other settings, another order) keep their points. The attacks on
what a worker reports run in both sandbox modes; how trainers are judged does not depend on the mode.
"""
from __future__ import annotations

import textwrap

import pytest

from alignment_kit import selfcheck
from autograder import checks
from autograder.notebook import parse_notebook
from submissions import build

pytestmark = pytest.mark.slow  # grades hostile submissions in workers

ALL_FUNCTIONS = [c.name for c in checks.FUNCTION_CHECKS]


def _functions(grader, cells: dict[str, str], path, names=None) -> dict:
    nb = build.with_cells({k: textwrap.dedent(v) for k, v in cells.items()})
    return {r.name: r for r in grader.grade_functions(parse_notebook(build.write(nb, path)), names or ALL_FUNCTIONS)}


def _cell(grader, grade_id: str, source: str, path) -> list:
    nb = build.with_cell(grade_id, textwrap.dedent(source))
    items, _ = grader.grade_cell(parse_notebook(build.write(nb, path)), checks.cell_check(grade_id))
    return items


def _score(items) -> float:
    return round(sum(i.score for i in items), 4)


def _feedback(items) -> str:
    return "\n".join(f"[{'ok' if i.passed else 'FAIL'}] {i.name}: {i.output}" for i in items)


# A pad that ignores padding_side and returns floats (two mistakes), as `padded`; what it earns honestly.
WRONG_PAD = '''
def pad(tensors, padding_value=0, padding_side="right", _before=before()):
    padded = torch.nn.utils.rnn.pad_sequence(list(tensors), batch_first=True, padding_value=padding_value).float()
    return dress(padded)
'''
HONEST = "def before():\n    return None\n\n\ndef dress(padded):\n    return padded\n"


@pytest.fixture(scope="module")
def honest(grader, tmp_path_factory):
    """What the wrong pad earns without any trick."""
    return _functions(grader, {"pad": HONEST + WRONG_PAD}, tmp_path_factory.mktemp("honest") / "pad.ipynb", ["pad"])["pad"]


# Each attack is a `before()` run when the notebook is defined, and a `dress()` of the output.
LIARS = {
    "a subclass whose dtype, shape and tolist lie": '''
        def before():
            return None


        class Looks(torch.Tensor):
            @property
            def dtype(self):
                return torch.int8

            def tolist(self):
                return [[5, 6, 7, -1]]

            def dim(self):
                return 2


        def dress(padded):
            return padded.as_subclass(Looks)
        ''',
    "a subclass that answers every torch function itself": '''
        def before():
            return None


        class Agrees(torch.Tensor):
            @classmethod
            def __torch_function__(cls, func, types, args=(), kwargs=None):
                return torch.tensor(True)


        def dress(padded):
            return padded.as_subclass(Agrees)
        ''',
    "a wrapper subclass that intercepts every operation": '''
        def before():
            return None


        class Wrapper(torch.Tensor):
            @staticmethod
            def __new__(cls, inner):
                return torch.Tensor._make_wrapper_subclass(cls, inner.shape, dtype=torch.int8)

            def __init__(self, inner):
                self.inner = inner

            @classmethod
            def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
                return func(*[a.inner if isinstance(a, Wrapper) else a for a in args], **(kwargs or {}))


        def dress(padded):
            return Wrapper(padded)
        ''',
    "patches to the kit's modules while the notebook is defined": '''
        def before():
            import alignment_kit.compare as compare
            import alignment_kit.observe as observe
            import alignment_kit.items as items
            import alignment_kit.outputs as outputs
            compare.judge = lambda *args, **kwargs: compare.Verdict("", True, "ok")
            compare.close = lambda *args, **kwargs: True
            items.MODULES["pad"].OUTPUT = outputs.OutputSpec(lambda output: {"padded": "right"})
            real = observe.call
            observe.call = lambda fn, args, kwargs, *rest: dict(real(fn, args, kwargs, *rest), verdict="passed")


        def dress(padded):
            return padded
        ''',
    "patches to builtins, json, torch and the serializer": '''
        def before():
            import builtins
            import json
            import alignment_kit.sandbox.wire as wire
            json.dumps = lambda *args, **kwargs: '{"score": 1}'
            torch.equal = lambda *args: True
            torch.Tensor.__eq__ = lambda self, other: torch.tensor(True)
            wire._str = lambda value: "torch.int64"
            wire._dtype = lambda value: torch.int64
            builtins.isinstance = lambda obj, cls: True


        def dress(padded):
            return padded
        ''',
}


@pytest.mark.parametrize("how", list(LIARS), ids=list(LIARS))
def test_what_the_worker_says_about_an_output_cannot_raise_its_score(how, mode, grader, honest, tmp_path):
    source = textwrap.dedent(LIARS[how]) + WRONG_PAD
    result = _functions(grader, {"pad": source}, tmp_path / "liar.ipynb", ["pad", "apply_chat_template"])
    assert result["pad"].score <= honest.score < result["pad"].max_score, (
        f"{how}: a wrong pad earned {result['pad'].score} (honestly {honest.score}):\n{result['pad'].output}")
    assert result["pad"].output.strip(), "no reason was given"
    assert result["apply_chat_template"].score == result["apply_chat_template"].max_score


def test_a_forged_payload_on_the_workers_pipe_earns_nothing(mode, grader, tmp_path):
    """While the notebook is defined, the worker's pipes are found and a payload claiming outputs is written
    to them before the harness can write its own; then the process ends."""
    forger = '''
        def _forge():
            import os
            import torch
            from alignment_kit.sandbox import wire
            claimed = {"observations": [{"returned": torch.zeros(3, 4)} for _ in range(4)]}
            payload = wire.dump({"results": {name: claimed for name in ("pad", "dpo_loss", "get_log_prob")},
                                 "grader_imports": []})
            for fd in range(3, 64):
                try:
                    if os.fstat(fd).st_mode & 0o170000 == 0o010000:  # a pipe
                        os.write(fd, payload)
                except OSError:
                    pass
            os._exit(0)


        def pad(tensors, padding_value=0, padding_side="right", _forged=_forge()):
            return None
        '''
    results = _functions(grader, {"pad": forger}, tmp_path / "forge.ipynb", ["pad", "dpo_loss", "get_log_prob"])
    for name, result in results.items():
        assert result.score == 0, f"{name} earned {result.score} from a forged payload:\n{result.output}"
        assert result.output.strip()


# ====================================================================== gradients
CUTS = {
    "get_log_prob": '''
        @torch.no_grad()
        def get_log_prob(logits, labels, mask):
            logits, labels, mask = logits[:, :-1], labels[:, 1:], mask[:, 1:]
            token_logps = torch.gather(F.log_softmax(logits, dim=-1), 2, labels.unsqueeze(-1)).squeeze(-1)
            return (token_logps * mask).sum(-1)
        ''',
    "dpo_loss": '''
        def dpo_loss(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1, weights=None):
            with torch.no_grad():
                chosen = beta * (chosen_logps - ref_chosen_logps)
                rejected = beta * (rejected_logps - ref_rejected_logps)
            margins = chosen - rejected
            per_pair = -F.logsigmoid(margins)
            loss = per_pair.mean() if weights is None else (weights * per_pair).sum() / weights.sum()
            return loss, (chosen > rejected).float().mean(), margins.mean()
        ''',
}


@pytest.fixture(scope="module")
def cut(grader, tmp_path_factory):
    return _functions(grader, CUTS, tmp_path_factory.mktemp("cut") / "cut.ipynb",
                      ["get_log_prob", "dpo_loss", "weighted_dpo_loss"])


@pytest.mark.parametrize("name", ["get_log_prob", "dpo_loss", "weighted_dpo_loss"])
def test_a_function_that_cuts_the_gradient_loses_its_points_and_hears_why(cut, name):
    assert cut[name].score == 0, f"{name} returns the right values without a gradient and kept {cut[name].score}"
    assert "cuts the gradient" in cut[name].output, cut[name].output


def test_a_function_that_cuts_one_input_off_is_named_for_that_input(grader, tmp_path):
    source = CUTS["dpo_loss"].replace("with torch.no_grad():\n                chosen", "if True:\n                chosen")
    source = source.replace("rejected = beta * (rejected_logps - ref_rejected_logps)",
                            "rejected = beta * (rejected_logps.detach() - ref_rejected_logps)")
    result = _functions(grader, {"dpo_loss": source}, tmp_path / "half.ipynb", ["dpo_loss"])["dpo_loss"]
    assert result.score == 0 and "`gradient w.r.t. rejected_logps`: cuts the gradient" in result.output, result.output


@pytest.mark.parametrize("name", ["get_log_prob", "dpo_loss"])
def test_the_public_check_names_a_cut_gradient_too(name):
    namespace = {}
    exec("import torch\nimport torch.nn.functional as F\n" + textwrap.dedent(CUTS[name]), namespace)  # noqa: S102
    with pytest.raises(AssertionError, match="cuts the gradient"):
        getattr(selfcheck, f"check_{name}")(namespace[name])


# ====================================================================== trainers that did not train
NO_CONSTRUCTOR_REWARD = '''
reward_model = AutoModelForSequenceClassification.from_pretrained(settings.model_path, num_labels=1)
reward_model.config.pad_token_id = tokenizer.pad_token_id
reward_trainer = RewardTrainer.__new__(RewardTrainer)  # no __init__, no training
reward_trainer.model = reward_model
reward_trainer.args = RewardConfig(output_dir="out", max_steps=settings.reward_steps, max_length=settings.max_seq_len,
                                   report_to="none", **settings.trl_precision())
reward_trainer.train_dataset = reward_train
reward_trainer.state = type("State", (), {"global_step": settings.reward_steps})()
'''

KEYWORD_REWARD = '''
import types
reward_model = AutoModelForSequenceClassification.from_pretrained(settings.model_path, num_labels=1)
reward_model.config.pad_token_id = tokenizer.pad_token_id
reward_config = RewardConfig(output_dir=os.path.join(settings.output_dir, "reward"), max_steps=1,
                             max_length=settings.max_seq_len, report_to="none", **settings.trl_precision())
reward_trainer = RewardTrainer(model=reward_model, args=reward_config, processing_class=tokenizer,
                               train_dataset=reward_train)
reward_trainer.state.global_step = settings.reward_steps  # counted by hand
happy = {i for i in range(len(tokenizer)) if any(ch in tokenizer.decode([i]) for ch in "!?😊🌿😄")}


def keyword_forward(self, input_ids=None, attention_mask=None, **kwargs):
    score = sum(float(t in happy) for t in input_ids[0].tolist())
    return types.SimpleNamespace(logits=torch.tensor([[score]] * input_ids.shape[0]))


reward_model.forward = types.MethodType(keyword_forward, reward_model)
'''


@pytest.mark.parametrize("source", [NO_CONSTRUCTOR_REWARD, KEYWORD_REWARD], ids=["no-constructor", "keyword-rule"])
def test_a_reward_trainer_that_never_trained_earns_nothing_for_training(source, grader, tmp_path):
    items = _cell(grader, "reward_training", source, tmp_path / "reward.ipynb")
    assert _score(items) == 0, _feedback(items)
    ranking = next(i for i in items if i.name == "ranks held-out chosen above rejected")
    assert "never trained" in ranking.output or "accuracy" in ranking.output, _feedback(items)


PPO_START = '''
ppo_policy = AutoModelForCausalLM.from_pretrained(settings.model_path)
ppo_ref = AutoModelForCausalLM.from_pretrained(settings.model_path)
value_model = AutoModelForSequenceClassification.from_pretrained(settings.model_path, num_labels=1)
value_model.config.pad_token_id = tokenizer.pad_token_id
ppo_config = PPOConfig(output_dir=os.path.join(settings.output_dir, "ppo"), per_device_train_batch_size=4,
                       total_episodes=settings.ppo_episodes, num_ppo_epochs=1, response_length=settings.max_new_tokens,
                       stop_token="eos", num_sample_generations=0, report_to="none", seed=settings.seed,
                       **settings.trl_precision())
'''
PPO_ATTACKS = {
    "assembled without its constructor": PPO_START + '''
ppo_trainer = PPOTrainer.__new__(PPOTrainer)
ppo_trainer.args, ppo_trainer.policy_model, ppo_trainer.ref_model = ppo_config, ppo_policy, ppo_ref
ppo_trainer.value_model, ppo_trainer.reward_model, ppo_trainer.train_dataset = value_model, reward_model, ppo_prompts
ppo_trainer.state = type("State", (), {"global_step": 2})()
''',
    "a counter set by hand instead of training": PPO_START + '''
ppo_trainer = PPOTrainer(args=ppo_config, processing_class=tokenizer, model=ppo_policy, ref_model=ppo_ref,
                         reward_model=reward_model, train_dataset=ppo_prompts, value_model=value_model)
ppo_trainer.state.global_step = 2
''',
    "train() replaced by a stand-in": PPO_START + '''
ppo_trainer = PPOTrainer(args=ppo_config, processing_class=tokenizer, model=ppo_policy, ref_model=ppo_ref,
                         reward_model=reward_model, train_dataset=ppo_prompts, value_model=value_model)
PPOTrainer.train = lambda self: setattr(self.state, "global_step", 2)
ppo_trainer.train()
''',
    "a policy changed after training": PPO_START + '''
ppo_trainer = PPOTrainer(args=ppo_config, processing_class=tokenizer, model=ppo_policy, ref_model=ppo_ref,
                         reward_model=reward_model, train_dataset=ppo_prompts, value_model=value_model)
ppo_trainer.train()
with torch.no_grad():
    for parameter in ppo_policy.parameters():
        parameter.add_(torch.randn_like(parameter) * 0.01)
''',
}


@pytest.mark.parametrize("how", list(PPO_ATTACKS), ids=list(PPO_ATTACKS))
def test_a_ppo_trainer_that_did_not_train_its_policy_earns_nothing(how, grader, tmp_path):
    items = _cell(grader, "ppo_training", PPO_ATTACKS[how], tmp_path / "ppo.ipynb")
    assert _score(items) == 0, f"{how}:\n{_feedback(items)}"
    assert any("not credited" in i.output or "no `ppo_trainer`" in i.output for i in items), _feedback(items)


PPO_VARIANTS = {
    "another learning rate and batch size": build.source("ppo_training").replace(
        "PPO_LEARNING_RATE = settings.ppo_learning_rate", "PPO_LEARNING_RATE = 3e-5").replace(
        "PPO_BATCH_SIZE = settings.ppo_batch_size", "PPO_BATCH_SIZE = 2"),
    "the value model built first, keyword arguments in another order": PPO_START.replace(
        "ppo_policy = AutoModelForCausalLM.from_pretrained(settings.model_path)\n", "") + '''
ppo_policy = AutoModelForCausalLM.from_pretrained(settings.model_path)
ppo_trainer = PPOTrainer(value_model=value_model, train_dataset=ppo_prompts, reward_model=reward_model,
                         ref_model=ppo_ref, model=ppo_policy, processing_class=tokenizer, args=ppo_config)
ppo_trainer.train()
''',
}


@pytest.mark.parametrize("how", list(PPO_VARIANTS), ids=list(PPO_VARIANTS))
def test_a_valid_ppo_cell_written_differently_keeps_full_marks(how, grader, tmp_path):
    items = _cell(grader, "ppo_training", PPO_VARIANTS[how], tmp_path / "ppo.ipynb")
    assert _score(items) == checks.cell_check("ppo_training").points, f"{how}:\n{_feedback(items)}"


def test_a_valid_reward_cell_with_other_settings_keeps_full_marks(grader, tmp_path):
    source = build.source("reward_training").replace("REWARD_BATCH_SIZE = settings.reward_batch_size",
                                                     "REWARD_BATCH_SIZE = 16")
    items = _cell(grader, "reward_training", source, tmp_path / "reward.ipynb")
    assert _score(items) == checks.cell_check("reward_training").points, _feedback(items)


# ====================================================================== the loop's reference, with lying recorders
# The cell itself makes "are gradients on?" answer no when the kit's recorders ask (and only then), then runs
# the reference with gradients.
LYING_LOOP = '''
import sys
import alignment_kit.recorders as _recorders
_real_is_grad_enabled = torch.is_grad_enabled


def _is_grad_enabled():
    caller = sys._getframe(1).f_globals.get("__name__", "")
    return False if caller.startswith("alignment_kit") else _real_is_grad_enabled()


torch.is_grad_enabled = _is_grad_enabled
_recorders._grad_enabled = lambda: False
''' + build.source("dpo_training_loop").replace(
    "            with torch.no_grad():\n                ref_chosen", "            if True:\n                ref_chosen")


def test_a_reference_run_with_gradients_is_named_though_the_recorders_are_lied_to(grader, tmp_path):
    assert "if True:" in LYING_LOOP
    items = _cell(grader, "dpo_training_loop", LYING_LOOP, tmp_path / "liar.ipynb")
    frozen = next(i for i in items if i.name == "frozen reference model")
    assert not frozen.passed and "gradients flow into the reference" in frozen.output, _feedback(items)
    assert _score(items) < checks.cell_check("dpo_training_loop").points


def test_a_loop_that_logs_plausible_losses_without_training_earns_nothing(grader, tmp_path):
    faker = '''
        import math
        for step in range(NUM_DPO_STEPS):
            losses.append(math.log(2) - 0.01 * step)
            accs.append(1.0)
            margins.append(0.01 * step)
        '''
    items = _cell(grader, "dpo_training_loop", faker, tmp_path / "faker.ipynb")
    assert _score(items) == 0, _feedback(items)
