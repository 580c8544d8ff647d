"""The API's one JSON parser (REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]).

DRF's own parser lets RecursionError from a deeply nested body escape as a 500 on
every endpoint, authenticated or not. This one decodes through core.safe_json, so
any malformed JSON is a 400 {"detail", "code": "parse_error"}.
"""

from rest_framework import parsers
from rest_framework.exceptions import ParseError

from core import safe_json


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        encoding = parsers.get_encoding(parser_context or {})
        try:
            return safe_json.loads(stream.read().decode(encoding))
        except ValueError as error:  # also UnicodeDecodeError: bytes that are not in the charset
            raise ParseError(f"JSON parse error - {error}") from None
