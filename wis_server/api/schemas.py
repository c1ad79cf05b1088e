"""A small declarative schema: one definition validates request bodies strictly (types,
enums, lengths, unknown fields) and renders the same shape into the OpenAPI document."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from ..domain.codes import Code
from ..domain.errors import ValidationFailed
from ..domain.text import first_forbidden_in_name, is_blank, string_pattern


class Schema(ABC):
    @abstractmethod
    def validate(self, value: Any, path: str) -> Any: ...

    @abstractmethod
    def openapi(self) -> dict[str, Any]: ...


def _fail(path: str, message: str, code: Code = Code.INVALID_FIELD) -> ValidationFailed:
    return ValidationFailed(f"{path or 'body'}: {message}", code=code, field=path or None)


@dataclass(frozen=True)
class Str(Schema):
    """A string. NUL is always refused; `not_blank` needs a character that is not white space
    (one notion of blank, `domain.text`); `name` also refuses invisible and layout-changing
    characters. The published `pattern` is built from the same definitions."""

    min_length: int = 0
    max_length: int = 10_000
    description: str = ""
    fmt: str | None = None
    not_blank: bool = False
    name: bool = False
    too_short_code: Code = Code.TOO_SHORT

    def validate(self, value: Any, path: str) -> str:
        if not isinstance(value, str):
            raise _fail(path, "must be a string", Code.WRONG_TYPE)
        if len(value) < self.min_length:
            raise _fail(path, f"must have at least {self.min_length} characters",
                        self.too_short_code)
        if len(value) > self.max_length:
            raise _fail(path, f"must have at most {self.max_length} characters", Code.TOO_LONG)
        if "\x00" in value:
            raise _fail(path, "must not contain NUL characters")
        if self.name:
            bad = first_forbidden_in_name(value)
            if bad is not None:
                raise _fail(path, f"must not contain invisible or control characters "
                                  f"(U+{ord(bad):04X})", Code.INVISIBLE_CHARACTER)
        if self.not_blank and is_blank(value):
            raise _fail(path, "must not be empty or only spaces", Code.BLANK)
        return value

    def openapi(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"type": "string", "maxLength": self.max_length,
                               "pattern": string_pattern(name=self.name,
                                                         not_blank=self.not_blank)}
        if self.min_length:
            doc["minLength"] = self.min_length
        if self.fmt:
            doc["format"] = self.fmt
        if self.description:
            doc["description"] = self.description
        return doc


NAME_NOTE = "no control, format (bidirectional, zero-width) or separator characters"


def Name(min_length: int, max_length: int, description: str = NAME_NOTE) -> Str:
    """A name shown to other people: not blank, nothing invisible (422 invisible_character)."""
    return Str(min_length, max_length, description, not_blank=True, name=True)


@dataclass(frozen=True)
class Choice(Schema):
    enum: type[Enum]
    description: str = ""

    def validate(self, value: Any, path: str) -> Enum:
        if not isinstance(value, str):
            raise _fail(path, "must be a string", Code.WRONG_TYPE)
        try:
            return self.enum(value)
        except ValueError:
            allowed = ", ".join(e.value for e in self.enum)
            raise _fail(path, f"must be one of: {allowed}", Code.UNKNOWN_VALUE) from None

    def openapi(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"type": "string", "enum": [e.value for e in self.enum]}
        if self.description:
            doc["description"] = self.description
        return doc


@dataclass(frozen=True)
class Int(Schema):
    minimum: int | None = None
    maximum: int | None = None

    def validate(self, value: Any, path: str) -> int:
        # JSON Schema counts `2.0` as an integer; so does the server.
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(path, "must be an integer", Code.WRONG_TYPE)
        if self.minimum is not None and value < self.minimum:
            raise _fail(path, f"must be at least {self.minimum}", Code.OUT_OF_RANGE)
        if self.maximum is not None and value > self.maximum:
            raise _fail(path, f"must be at most {self.maximum}", Code.OUT_OF_RANGE)
        return value

    def openapi(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"type": "integer"}
        if self.minimum is not None:
            doc["minimum"] = self.minimum
        if self.maximum is not None:
            doc["maximum"] = self.maximum
        return doc


@dataclass(frozen=True)
class Bool(Schema):
    def validate(self, value: Any, path: str) -> bool:
        if not isinstance(value, bool):
            raise _fail(path, "must be true or false", Code.WRONG_TYPE)
        return value

    def openapi(self) -> dict[str, Any]:
        return {"type": "boolean"}


@dataclass(frozen=True)
class Array(Schema):
    items: Schema
    max_items: int = 1000
    unique: bool = False
    min_items: int = 0
    too_short_code: Code = Code.TOO_SHORT

    def validate(self, value: Any, path: str) -> list[Any]:
        if not isinstance(value, list):
            raise _fail(path, "must be an array", Code.WRONG_TYPE)
        if len(value) < self.min_items:
            raise _fail(path, f"must have at least {self.min_items} items", self.too_short_code)
        if len(value) > self.max_items:
            raise _fail(path, f"must have at most {self.max_items} items", Code.TOO_LONG)
        result = [self.items.validate(v, f"{path}[{i}]") for i, v in enumerate(value)]
        if self.unique and len({repr(v) for v in result}) != len(result):
            raise _fail(path, "must not repeat an item", Code.DUPLICATE_ITEM)
        return result

    def openapi(self) -> dict[str, Any]:
        doc = {"type": "array", "items": self.items.openapi(), "maxItems": self.max_items}
        if self.min_items:
            doc["minItems"] = self.min_items
        if self.unique:
            doc["uniqueItems"] = True
        return doc


@dataclass(frozen=True)
class Nullable(Schema):
    inner: Schema

    def validate(self, value: Any, path: str) -> Any:
        return None if value is None else self.inner.validate(value, path)

    def openapi(self) -> dict[str, Any]:
        inner = self.inner.openapi()
        if "type" in inner:
            inner = dict(inner)
            inner["type"] = [inner["type"], "null"]
            if "enum" in inner:
                inner["enum"] = [*inner["enum"], None]
            return inner
        return {"oneOf": [inner, {"type": "null"}]}


@dataclass(frozen=True)
class Obj(Schema):
    """A JSON object with known fields only; `required` lists the mandatory ones."""

    name: str
    fields: Mapping[str, Schema]
    required: Sequence[str] = ()
    description: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def validate(self, value: Any, path: str = "") -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _fail(path, "must be a JSON object", Code.WRONG_TYPE)
        unknown = sorted(set(value) - set(self.fields))
        if unknown:
            where = f"{path}.{unknown[0]}" if path else unknown[0]
            raise ValidationFailed(f"unknown field {where!r}", code=Code.UNKNOWN_FIELD, field=where)
        for name in self.required:
            if name not in value:
                where = f"{path}.{name}" if path else name
                raise ValidationFailed(f"{where} is required", code=Code.MISSING_FIELD, field=where)
        return {
            name: self.fields[name].validate(v, f"{path}.{name}" if path else name)
            for name, v in value.items()
        }

    def openapi(self) -> dict[str, Any]:
        return {"$ref": f"#/components/schemas/{self.name}"}

    def component(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "type": "object",
            "properties": {k: v.openapi() for k, v in self.fields.items()},
            "additionalProperties": False,
        }
        if self.required:
            doc["required"] = list(self.required)
        if self.description:
            doc["description"] = self.description
        doc.update(self.extra)
        return doc


@dataclass(frozen=True)
class Out(Schema):
    """A response shape, documented only (responses are built by views, not validated)."""

    name: str
    doc: Mapping[str, Any]

    def validate(self, value: Any, path: str) -> Any:
        return value

    def openapi(self) -> dict[str, Any]:
        return {"$ref": f"#/components/schemas/{self.name}"}

    def component(self) -> dict[str, Any]:
        return dict(self.doc)
