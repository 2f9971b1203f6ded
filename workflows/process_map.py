"""The agreement's process map: the human steps of AgreementFlow drawn top to
bottom (parallel steps side by side), each marked done, now or waiting, or
"will not happen" for an agreement withdrawn or rejected. Marked in words and
with a sign and a line style, not by colour alone; the template
(workflows/_process_map.html) draws it as SVG with a text alternative.

Where the agreement is comes from its stage (set by the cases services) and
its open and ended steps (workflows.selectors.steps_of, already read by the
page): no further query."""

import textwrap
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _
from viewflow.workflow.status import STATUS

from cases.models import Stage

DONE, NOW, WAITING, NOT_TAKEN = "done", "now", "waiting", "not_taken"
LABELS = {
    DONE: _("Done"),
    NOW: _("Now"),
    WAITING: _("Waiting"),
    NOT_TAKEN: _("Will not happen"),
}
SIGNS = {DONE: "✓", NOW: "▶", WAITING: "○", NOT_TAKEN: "–"}
ORDER = [Stage.DRAFTING, Stage.REVIEW, Stage.APPROVAL, Stage.SIGNING, Stage.IN_FORCE, Stage.CLOSED]

# Rows of the map, top to bottom: (node name, stage it belongs to); two in a row run in parallel.
ROWS = [
    [("draft", Stage.DRAFTING)],
    [("review", Stage.REVIEW)],
    [("region_decision", Stage.APPROVAL), ("municipal_decision", Stage.APPROVAL)],
    [("sign_region", Stage.SIGNING), ("sign_municipality", Stage.SIGNING)],
    [("write_follow_up", Stage.IN_FORCE)],
    [("review_follow_up", Stage.IN_FORCE)],
    [("close", Stage.CLOSED)],
]
WIDTH, BOX_HEIGHT, GAP, MARGIN = 360, 66, 26, 4
TITLES = {"close": _("Closed at the end of the plan period")}


@dataclass
class Box:
    name: str
    title: str
    status: str
    x: int
    y: int
    width: int
    lines: list

    @property
    def label(self):
        return LABELS[self.status]

    @property
    def sign(self):
        return SIGNS[self.status]

    @property
    def text_x(self):
        return self.x + 10

    @property
    def text_y(self):
        return self.y + 20

    @property
    def status_y(self):
        return self.y + BOX_HEIGHT - 10


@dataclass
class Arrow:
    x1: int
    y1: int
    x2: int
    y2: int


@dataclass
class ProcessMap:
    boxes: list
    arrows: list
    width: int
    height: int

    def named(self, status):
        return [box.title for box in self.boxes if box.status == status]

    @property
    def now(self):
        return self.named(NOW)

    @property
    def done(self):
        return self.named(DONE)

    @property
    def waiting(self):
        return self.named(WAITING)

    @property
    def not_taken(self):
        return self.named(NOT_TAKEN)


def _status(name, stage, agreement_stage, open_names, done_names):
    if name in open_names:
        return NOW
    if agreement_stage in (Stage.WITHDRAWN, Stage.REJECTED):
        return DONE if name in done_names else NOT_TAKEN
    here, step = ORDER.index(agreement_stage), ORDER.index(stage)
    if step < here or agreement_stage == Stage.CLOSED:
        return DONE
    if step == here and name in done_names:
        return DONE
    return WAITING


def process_map(agreement, open_steps, ended_steps) -> ProcessMap:
    from .flows import AgreementFlow

    open_names = {task.flow_task.name for task in open_steps}
    done_names = {task.flow_task.name for task in ended_steps if task.status == STATUS.DONE}
    boxes, arrows, y = [], [], MARGIN
    for index, row in enumerate(ROWS):
        width = (WIDTH - 2 * MARGIN - (len(row) - 1) * 12) // len(row)
        for column, (name, stage) in enumerate(row):
            node = getattr(AgreementFlow, name)
            title = str(TITLES.get(name) or node.task_title)
            x = MARGIN + column * (width + 12)
            lines = textwrap.wrap(title, width=max(12, (width - 20) // 8))[:2]
            status = _status(name, stage, agreement.stage, open_names, done_names)
            boxes.append(Box(name=name, title=title, status=status, x=x, y=y, width=width, lines=lines))
        if index < len(ROWS) - 1:
            arrows.append(Arrow(WIDTH // 2, y + BOX_HEIGHT, WIDTH // 2, y + BOX_HEIGHT + GAP - 2))
        y += BOX_HEIGHT + GAP
    return ProcessMap(boxes=boxes, arrows=arrows, width=WIDTH, height=y - GAP + MARGIN)
