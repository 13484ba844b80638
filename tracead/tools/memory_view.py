"""The memory plan over the kernel schedule, as text and as an SVG picture.

Rows are buffers, columns are kernel steps; a value occupies its buffer from
the kernel that writes it to the last kernel that reads it (graph outputs to
the end). Values sharing a row share a buffer. The peak step (most live
bytes) is marked, and in a forward graph of a joint forward+backward build
the values saved for the backward are flagged.
"""
from __future__ import annotations

import html
from dataclasses import dataclass

from ..ir.printer import format_graph, type_str
from ..plan.memory import written
from ..units import bytes_text as human_bytes


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


@dataclass(frozen=True, slots=True)
class Span:
    """One value's stay in one buffer."""

    buffer: int
    name: str  # %n as in the printed graph
    type: str
    first: int  # kernel step writing it
    last: int  # last kernel step reading it (== steps: lives to the end)
    nbytes: int
    saved: bool  # saved for the backward graph


@dataclass(frozen=True, slots=True)
class MemoryView:
    """Lifetimes of one graph's buffers over its kernel steps."""

    label: str
    steps: int
    spans: tuple[Span, ...]
    buffer_bytes: tuple[int, ...]
    buffer_is_output: tuple[bool, ...]
    live_bytes: tuple[int, ...]  # per step
    views: int
    naive_bytes: int
    planned_bytes: int

    @property
    def peak_step(self) -> int:
        return max(range(self.steps), key=lambda s: self.live_bytes[s]) if self.steps else 0

    @property
    def peak_live(self) -> int:
        return max(self.live_bytes, default=0)

    @property
    def saved_bytes(self) -> int:
        return sum(s.nbytes for s in self.spans if s.saved)

    def summary(self) -> str:
        """One line with the figures explain's summary shows."""
        if not self.spans:
            return f"{self.label}: no kernel outputs, nothing allocated"
        values = len(self.spans)
        shared = values - len(self.buffer_bytes)
        kept = sum(self.buffer_is_output)
        text = (f"{self.label}: {_n(values, 'kernel output')} in {_n(len(self.buffer_bytes), 'buffer')} "
                f"({kept} hold graph outputs; {shared} reuse a dead value's buffer); allocated {human_bytes(self.planned_bytes)} "
                f"vs {human_bytes(self.naive_bytes)} without reuse; most live at once "
                f"{human_bytes(self.peak_live)} (after kernel {self.peak_step})")
        if self.saved_bytes:
            text += f"; saved for backward {human_bytes(self.saved_bytes)}"
        return text

    def __str__(self) -> str:
        if not self.spans:
            return self.summary()
        width = self.steps + 1
        lines = [self.summary(),
                 "  one column per kernel step, # = the value occupies the buffer, ^ = peak; "
                 "S = saved for backward"]
        marker = [" "] * width
        marker[self.peak_step] = "^"
        lines.append(f"  {'':<22} {''.join(str(s % 10) for s in range(width))}")
        for b, nbytes in enumerate(self.buffer_bytes):
            row = ["."] * width
            names = []
            for s in self.spans:
                if s.buffer == b:
                    for step in range(s.first, min(s.last, self.steps) + 1):
                        row[step] = "#"
                    names.append(s.name + ("(S)" if s.saved else ""))
            role = "out " if self.buffer_is_output[b] else "temp"
            lines.append(f"  buf{b:<3} {role} {human_bytes(nbytes):>10} {''.join(row)}  {' '.join(names)}")
        lines.append(f"  {'':<22} {''.join(marker)}")
        if self.views:
            lines.append(f"  {self.views} reshape/transpose results are views (no buffer of their own)")
        return "\n".join(lines)

    def to_svg(self) -> str:
        """A Gantt chart: one row per buffer, one bar per value, the peak step marked."""
        cell, row_h, left, top = 18, 18, 150, 30
        rows = len(self.buffer_bytes)
        width, height = left + cell * (self.steps + 1) + 20, top + row_h * rows + 40
        out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
               f'font-family="sans-serif" font-size="11" class="memory-plan">',
               f'<text x="4" y="14">{html.escape(self.label)} memory plan: buffers over kernel steps '
               f'(peak after kernel {self.peak_step})</text>']
        px = left + cell * self.peak_step
        out.append(f'<rect x="{px}" y="{top - 6}" width="{cell}" height="{row_h * rows + 12}" '
                   'fill="#fde2e2"/>')
        for step in range(self.steps + 1):
            if step % 5 == 0:
                out.append(f'<text x="{left + cell * step + 3}" y="{top - 8}">{step}</text>')
        for b, nbytes in enumerate(self.buffer_bytes):
            y = top + row_h * b
            role = "out" if self.buffer_is_output[b] else "temp"
            out.append(f'<text x="4" y="{y + 13}">buf{b} {role} {human_bytes(nbytes)}</text>')
        palette = ("#80b1d3", "#fdb462", "#b3de69", "#bebada", "#fb8072", "#8dd3c7")
        for i, s in enumerate(self.spans):
            y = top + row_h * s.buffer
            x0 = left + cell * s.first
            x1 = left + cell * (min(s.last, self.steps) + 1)
            colour = "#e78ac3" if s.saved else palette[i % len(palette)]
            title = html.escape(f"{s.name}:{s.type} written by kernel {s.first}, last read by "
                                f"{'the end' if s.last >= self.steps else f'kernel {s.last}'}"
                                + (" (saved for backward)" if s.saved else ""))
            out.append(f'<rect x="{x0}" y="{y + 2}" width="{x1 - x0 - 1}" height="{row_h - 4}" '
                       f'fill="{colour}" stroke="#555"><title>{title}</title></rect>')
            out.append(f'<text x="{x0 + 2}" y="{y + 13}" font-size="9">{html.escape(s.name)}</text>')
        out.append(f'<text x="4" y="{height - 8}">bars: values (hover for details); pink = saved for '
                   'backward; shaded column = peak step</text>')
        out.append("</svg>")
        return "\n".join(out)


def memory_view(plan, label: str = "graph", n_saved: int = 0) -> MemoryView:
    """The view of a `plan.memory.MemoryPlan`; the last `n_saved` graph outputs
    are the values a forward graph saves for its backward."""
    graph = plan.schedule.graph
    names: dict[int, str] = {}
    format_graph(graph, sources=False, names=names)
    saved = {v.id for v in graph.outputs[len(graph.outputs) - n_saved:]} if n_saved else set()
    steps = len(plan.schedule.kernels)
    values = {v.id: v for k in plan.schedule.kernels for v in written(k)}
    spans = []
    for vid, buf in plan.assignment.items():
        first, last = plan.live[vid]
        v = values[vid]
        spans.append(Span(buf, names.get(vid, f"v{vid}"), type_str(v), first, last, v.nbytes,
                          vid in saved))
    spans.sort(key=lambda s: (s.buffer, s.first))
    live = [0] * max(steps, 1)
    for s in spans:
        for step in range(s.first, min(s.last, steps - 1) + 1):
            live[step] += s.nbytes
    return MemoryView(label, steps, tuple(spans), tuple(b.nbytes for b in plan.buffers),
                      tuple(b.output for b in plan.buffers), tuple(live), len(plan.views),
                      plan.peak_bytes_naive, plan.peak_bytes_planned)
