"""Mapping a user's export onto the ledger contract: column names, formats, value maps.

A mapping comes from ``--map SRC=DST`` options and/or a YAML file (``load_mapping``).
The YAML format, every key optional::

    encoding: cp1255          # the files' text encoding (default utf-8; --encoding wins)
    delimiter: ";"            # CSV field separator (default ",")
    date_format: eu           # iso (YYYY-MM-DD, default) | us (MM/DD/YYYY) | eu (DD/MM/YYYY)
                              # or a strftime pattern such as "%d.%m.%Y"
    decimal: ","              # "." (default; "," groups thousands) or "," ("." groups)
    columns:                  # source column -> contract column
      invoices:               # ... for one table's file
        מספר חשבונית: invoice_id
        מספר לקוח: customer_id
      Kunde: customer_id      # ... or for every file that has the column (like --map)
      Betrag: invoices.amount
    values:                   # source value -> contract value, per contract column
      paperless: {Paper: false, Electronic: true}     # every table with this column
      invoices.terms: {שוטף+60: eom+60, שוטף+30: eom+30}
      disputed: {Yes: true, No: false, Unknown: null} # null = missing on purpose

``DST`` is ``table.column`` or just ``column``, which then applies to every file whose
table has that column. In this YAML, ``Yes``/``No``/``On``/``Off`` are plain strings
(only ``true``/``false`` are booleans), so a value map can use them as source values.
Source values match exactly after trimming spaces. Flags also accept, in any case,
true/false, yes/no, y/n, t/f and 1/0 without a map.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from ledger.contract import TABLES
from ledger.errors import PayriskError

DATE_FORMAT_NAMES = ("iso", "us", "eu")
DECIMAL_SEPARATORS = (".", ",")


class MappingError(PayriskError):
    """A column mapping or mapping file that cannot be used as given."""


@dataclass(frozen=True)
class MapRule:
    """Source column ``source`` holds contract column ``column`` (of ``table``, or any)."""

    source: str
    table: str | None
    column: str
    origin: str


@dataclass(frozen=True)
class ValueMap:
    """Source values of one contract column (of ``table``, or any) and what they mean."""

    table: str | None
    column: str
    values: Mapping[str, str | None]


@dataclass(frozen=True)
class ColumnMapping:
    """How to read a user's export: column renames, formats and value maps."""

    rules: tuple[MapRule, ...] = ()
    values: tuple[ValueMap, ...] = ()
    date_format: str = "iso"
    decimal: str = "."
    delimiter: str = ","
    encoding: str | None = None

    def with_options(self, options: Sequence[str]) -> ColumnMapping:
        """This mapping plus ``--map SRC=DST`` options (which win over the file's alike)."""
        rules = tuple(parse_map_option(option) for option in options)
        return replace(self, rules=self.rules + rules)

    def rules_for(self, table: str) -> dict[str, MapRule]:
        """source column -> rule, for one table's file.

        A table-specific rule wins over one for any table; among equals the later one
        (``--map`` options come after the mapping file's rules).
        """
        columns = TABLES[table].column_names
        chosen: dict[str, MapRule] = {}
        for rule in self.rules:
            if rule.table is None and rule.column in columns:
                chosen[rule.source] = rule
        for rule in self.rules:
            if rule.table == table:
                chosen[rule.source] = rule
        return chosen

    def value_map(self, table: str, column: str) -> dict[str, str | None]:
        """Source value -> contract value for one column (table-specific maps win)."""
        merged: dict[str, str | None] = {}
        for value_map in sorted(self.values, key=lambda vm: vm.table is not None):
            if value_map.column == column and value_map.table in (None, table):
                merged.update(value_map.values)
        return merged


def valid_columns_text(table: str | None) -> str:
    """The contract columns a mapping may name, for error messages."""
    if table is not None:
        return f"{table}: " + ", ".join(TABLES[table].column_names)
    return "; ".join(valid_columns_text(name) for name in TABLES)


def parse_destination(destination: str, origin: str) -> tuple[str | None, str]:
    """``table.column`` or ``column`` -> (table or None, column); raises on an unknown one."""
    prefix, dot, column = destination.strip().rpartition(".")
    table = prefix if dot else None
    if table is not None and table not in TABLES:
        raise MappingError(f"{origin}: unknown table {table!r}; tables are {list(TABLES)}")
    tables = [TABLES[table]] if table else list(TABLES.values())
    known = {name for contract_table in tables for name in contract_table.column_names}
    if column not in known:
        raise MappingError(
            f"{origin}: unknown column {destination.strip()!r}; valid columns are "
            f"{valid_columns_text(table)}"
        )
    return table, column


def parse_map_option(option: str) -> MapRule:
    """One ``--map SRC=DST`` option as a rule; raises ``MappingError`` when malformed."""
    source, equals, destination = option.rpartition("=")
    origin = f"--map {option}"
    if not equals or not source.strip() or not destination.strip():
        raise MappingError(f"{origin}: expected SRC=DST, e.g. --map customerID=customer_id")
    table, column = parse_destination(destination, origin)
    return MapRule(source.strip(), table, column, origin)


class _Yaml12Loader(yaml.SafeLoader):
    """SafeLoader where only true/false are booleans (YAML 1.2), so Yes/No stay strings."""


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def load_mapping(path: Path) -> ColumnMapping:
    """Read a YAML mapping file (format in this module's docstring)."""
    try:
        document = yaml.load(path.read_text(encoding="utf-8-sig"), Loader=_Yaml12Loader)
    except OSError as error:
        raise MappingError(f"{path}: cannot read the mapping file ({error})") from error
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise MappingError(f"{path}: not a valid UTF-8 YAML mapping file ({error})") from error
    document = document or {}
    if not isinstance(document, dict):
        raise MappingError(f"{path}: a mapping file is a YAML mapping of keys, not {document!r}")
    return mapping_from_dict(document, str(path))


_KEYS = ("encoding", "delimiter", "date_format", "decimal", "columns", "values")


def mapping_from_dict(document: Mapping[str, Any], origin: str) -> ColumnMapping:
    """A ``ColumnMapping`` from a parsed YAML document (or any dict of the same shape)."""
    unknown = sorted(set(document) - set(_KEYS))
    if unknown:
        raise MappingError(f"{origin}: unknown key(s) {unknown}; valid keys are {list(_KEYS)}")
    decimal = str(document.get("decimal", "."))
    if decimal not in DECIMAL_SEPARATORS:
        raise MappingError(f"{origin}: decimal must be '.' or ',', not {decimal!r}")
    delimiter = str(document.get("delimiter", ","))
    if len(delimiter) != 1:
        raise MappingError(f"{origin}: delimiter must be one character, not {delimiter!r}")
    return ColumnMapping(
        rules=_column_rules(document.get("columns") or {}, origin),
        values=_value_maps(document.get("values") or {}, origin),
        date_format=check_date_format(str(document.get("date_format", "iso")), origin),
        decimal=decimal,
        delimiter=delimiter,
        encoding=str(document["encoding"]) if document.get("encoding") else None,
    )


def check_date_format(date_format: str, origin: str) -> str:
    """``date_format`` if it is iso, us, eu or a strftime pattern; else ``MappingError``."""
    if date_format in DATE_FORMAT_NAMES or "%" in date_format:
        return date_format
    raise MappingError(
        f"{origin}: date_format {date_format!r} is not one of {list(DATE_FORMAT_NAMES)} "
        "nor a strftime pattern such as '%d.%m.%Y'"
    )


def _column_rules(columns: Any, origin: str) -> tuple[MapRule, ...]:
    if not isinstance(columns, dict):
        raise MappingError(f"{origin}: 'columns' must map source columns to contract columns")
    rules = []
    for key, target in columns.items():
        if isinstance(target, dict):
            if key not in TABLES:
                raise MappingError(
                    f"{origin}: columns.{key}: unknown table; tables are {list(TABLES)}"
                )
            for source, column in target.items():
                where = f"{origin}: columns.{key}.{source}"
                table, name = parse_destination(f"{key}.{column}", where)
                rules.append(MapRule(str(source).strip(), table, name, where))
        else:
            where = f"{origin}: columns.{key}"
            table, name = parse_destination(str(target), where)
            rules.append(MapRule(str(key).strip(), table, name, where))
    return tuple(rules)


def _value_maps(values: Any, origin: str) -> tuple[ValueMap, ...]:
    if not isinstance(values, dict):
        raise MappingError(f"{origin}: 'values' must map contract columns to value maps")
    maps = []
    for key, value_map in values.items():
        where = f"{origin}: values.{key}"
        if not isinstance(value_map, dict):
            raise MappingError(f"{where}: expected a map of source value -> value")
        if key in TABLES and all(isinstance(inner, dict) for inner in value_map.values()):
            maps += [
                _value_map(f"{key}.{column}", inner, f"{where}.{column}")
                for column, inner in value_map.items()
            ]
        else:
            maps.append(_value_map(str(key), value_map, where))
    return tuple(maps)


def _value_map(destination: str, value_map: Mapping[Any, Any], origin: str) -> ValueMap:
    table, column = parse_destination(destination, origin)
    return ValueMap(table, column, {_as_text(k): _as_value(v) for k, v in value_map.items()})


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


def _as_value(value: Any) -> str | None:
    return None if value is None else _as_text(value)
