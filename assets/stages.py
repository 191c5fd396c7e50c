"""Every stage of the funnel in the order documents pass through them, as declared."""

from assets.clean import CLEAN, clean
from assets.curate import CURATE, release_candidate
from assets.decontaminate import DECONTAMINATE, decontaminate
from assets.dedup import DEDUP, dedup
from assets.ingest import INGEST, ingest
from assets.review import REVIEW, queue_for_review
from assets.runner import Stage
from assets.score import SCORE, score

STAGES: tuple[Stage, ...] = (INGEST, CLEAN, DEDUP, DECONTAMINATE, SCORE, CURATE, REVIEW)
STAGE_ASSETS = {
    INGEST.name: ingest,
    CLEAN.name: clean,
    DEDUP.name: dedup,
    DECONTAMINATE.name: decontaminate,
    SCORE.name: score,
    CURATE.name: release_candidate,
    REVIEW.name: queue_for_review,
}
