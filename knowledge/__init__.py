"""The course: structured content, its loader and the retrieval index that grounds every answer."""

from knowledge.loader import Course, KnowledgeError, Problem, load_course

__all__ = ["Course", "KnowledgeError", "Problem", "load_course"]
