from benchmarks.serving import eval_every, first_reaching, lever_costs, mean_and_spread, render

# (step, held-out loss, training seconds, samples read)
UNIFORM = [(0, 3.0, 0.0, 0), (10, 2.6, 10.0, 160), (20, 2.5, 20.0, 320)]
SELECTION = [(0, 3.0, 0.0, 0), (10, 2.5, 25.0, 640), (20, 2.4, 50.0, 1280)]
REWEIGHTING = [(0, 3.0, 0.0, 0), (10, 2.7, 10.0, 160), (20, 2.55, 20.0, 320)]


def _runs(selection_second_seed: list) -> dict:
    return {
        "uniform": {0: {"curve": UNIFORM}, 1: {"curve": UNIFORM}},
        "selection": {0: {"curve": SELECTION}, 1: {"curve": selection_second_seed}},
        "reweighting": {0: {"curve": REWEIGHTING}, 1: {"curve": REWEIGHTING}},
    }


def test_first_reaching_skips_the_start_and_returns_the_whole_point() -> None:
    assert first_reaching(SELECTION, 2.5) == (10, 2.5, 25.0, 640)
    assert first_reaching(UNIFORM, 3.0) == (10, 2.6, 10.0, 160)
    assert first_reaching(REWEIGHTING, 2.5) is None


def test_eval_every_gives_about_forty_points_and_never_less_than_five_steps() -> None:
    assert eval_every(400) == 10
    assert eval_every(60) == 5


def test_selection_is_charged_the_reference_model_and_the_samples_it_draws() -> None:
    costs = lever_costs(_runs(SELECTION), {0: 5.0, 1: 15.0})
    selection = costs["selection"]
    # Reaches uniform's final 2.5 at step 10 of uniform's 20.
    assert selection["steps_share"]["per_seed"] == [0.5, 0.5]
    # 25 s of training plus the reference's 5 s (seed 0) or 15 s (seed 1), over uniform's 20 s.
    assert selection["wall_time_share"]["per_seed"] == [1.5, 2.0]
    assert selection["wall_time_share"]["mean"] == 1.75
    # 640 samples drawn (four times the batch) against uniform's 320.
    assert selection["samples_read_share"]["per_seed"] == [2.0, 2.0]
    assert selection["charged_reference_training"] is True
    assert costs["uniform"]["wall_time_share"]["per_seed"] == [1.0, 1.0]
    assert costs["reweighting"]["steps_share"]["reached_in"] == "0/2 seeds"


def test_a_lever_missing_on_one_seed_has_no_mean() -> None:
    costs = lever_costs(_runs(REWEIGHTING), {0: 5.0, 1: 5.0})
    steps = costs["selection"]["steps_share"]
    assert steps["per_seed"] == [0.5, None]
    assert steps["mean"] is None and steps["reached_in"] == "1/2 seeds"
    assert mean_and_spread([1.0, 2.0, 3.0])["stdev"] == 1.0


def test_render_shows_wall_time_and_samples_beside_steps() -> None:
    levers = lever_costs(_runs(SELECTION), {0: 5.0, 1: 15.0})
    summary = {
        "experiment": {
            "seeds": [0, 1],
            "steps": 20,
            "batch": 16,
            "eval_every": 10,
            "uniform": {
                "final_heldout_loss": mean_and_spread([2.5, 2.5], 4),
                "training_seconds": mean_and_spread([20.0, 20.0], 1),
                "samples_read": 320,
            },
            "reference_model": {
                "documents": 600,
                "steps": 20,
                "training_seconds": mean_and_spread([5.0, 15.0], 1),
            },
            "levers": levers,
        }
    }
    text = render({"summary": summary})
    row = next(line for line in text.splitlines() if line.startswith("| selection †"))
    assert row.split(" | ")[2:] == [
        "0.5 ± 0.0 (0.5–0.5)",
        "1.75 ± 0.354 (1.5–2.0)",
        "2.0 ± 0.0 (2.0–2.0) |",
    ]
    assert "| reweighting | 2.55 ± 0.0 | not reached (0/2 seeds)" in text
