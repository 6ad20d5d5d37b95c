"""One input record, whatever the format it was read from."""

from __future__ import annotations

from dataclasses import dataclass, field

from tagger.io.validate import MAX_SENTENCE_TOKENS, token_problem


@dataclass
class Record:
    """A document to tag: raw text (text, lines, JSONL), or one pre-tokenized sentence
    with its original columns (CoNLL, CoNLL-U). A bad record carries ``error``; the
    caller decides whether that stops the run."""

    line: int  # 1-based line where the record starts
    id: str | None = None
    text: str | None = None
    tokens: list[str] | None = None
    rows: list[list[str]] | None = None  # CoNLL / CoNLL-U: the columns of each token line
    row_lines: list[int] = field(default_factory=list)  # 1-based line of each token line
    comments: list[str] = field(default_factory=list)  # CoNLL-U comment lines, written back unchanged
    extra: dict[int, list[str]] = field(default_factory=dict)  # CoNLL-U lines without a token, by the next token
    document: int = 0  # input document (-DOCSTART- or # newdoc) the record belongs to: context for the models
    docstart: str | None = None  # CoNLL: the -DOCSTART- line before this sentence, written back before it
    error: str | None = None
    error_line: int = 0  # 1-based line the error is on (0: the record's first line)

    def fail(self, line: int, message: str) -> None:
        """Mark the record bad at ``line``; only the first problem is kept."""
        if self.error is None:
            self.error, self.error_line = message, line

    @property
    def where(self) -> int:
        """The line an error message should name."""
        return self.error_line or self.line

    def add_token(self, line: int, columns: list[str], token: str) -> None:
        """Append one token line. A sentence over ``MAX_SENTENCE_TOKENS`` fails instead
        of growing: a file without blank lines must not become one record in memory."""
        if self.rows is None or self.tokens is None:
            self.rows, self.tokens = [], []
        if len(self.rows) >= MAX_SENTENCE_TOKENS:
            self.fail(line, f"sentence longer than {MAX_SENTENCE_TOKENS} tokens; separate sentences by blank lines")
            return
        problem = token_problem(token)  # the rule POST /tag and Tagger.tag apply to tokens
        if problem is not None:
            self.fail(line, f"bad token: {problem}")
        self.rows.append(columns)
        self.tokens.append(token)
        self.row_lines.append(line)

    def comment(self, key: str) -> str | None:
        """The value of a CoNLL-U comment ``# key = value`` (``# text``, ``# sent_id``)."""
        for line in self.comments:
            name, _, value = line[1:].partition("=")
            if name.strip() == key:
                return value.strip()
        return None

    @property
    def size(self) -> int:
        """Characters of input, the unit chunks are measured in."""
        if self.text is not None:
            return len(self.text)
        return sum(len(t) + 1 for t in self.tokens or [])
