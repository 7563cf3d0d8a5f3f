"""The score_edge task: how relevant and how risky one followed edge is for a query."""

from tasks.score_edge.task import EdgeType, ScoreEdgeInput, ScoreEdgeOutput, ScoreEdgeTask

__all__ = ["EdgeType", "ScoreEdgeInput", "ScoreEdgeOutput", "ScoreEdgeTask"]
