"""The documents' links lead somewhere.

Each ``(#anchor)`` names a heading of its file (by GitHub's slugs), each relative path a file.
"""

import os
import re

import pytest

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
DOCS = ['README.md', 'models/README.md', 'models/RESEARCH_LOG.md']


def _prose(text: str) -> str:
    return re.sub(r'```.*?```', '', text, flags=re.S)


def slugs(text: str) -> set:
    """GitHub's anchors for the headings: lower case, punctuation dropped, spaces to '-'."""
    out, seen = set(), {}
    for heading in re.findall(r'^#{1,6} (.+)$', _prose(text), flags=re.M):
        slug = re.sub(r'[^\w\- ]', '', heading.strip().lower()).replace(' ', '-')
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f'{slug}-{n}')
    return out


@pytest.mark.parametrize('doc', DOCS)
def test_every_link_of_a_document_leads_somewhere(doc):
    path = os.path.join(ROOT, doc)
    with open(path, encoding='utf-8') as f:
        text = _prose(f.read())
    anchors = slugs(text)
    broken = [a for a in re.findall(r'\]\(#([^)]+)\)', text) if a not in anchors]
    missing = [t for t in re.findall(r'\]\(([^)#:]+)(?:#[^)]*)?\)', text)
               if not os.path.exists(os.path.join(os.path.dirname(path), t))]
    assert not broken, f'{doc}: no heading for #{", #".join(broken)}'
    assert not missing, f'{doc}: no file {", ".join(missing)}'


def test_the_slugs_follow_githubs_rule():
    text = '# Training with randomisation (`robot/ranges.py`)\n## Two commands\n## Two commands\n'
    assert slugs(text) == {'training-with-randomisation-robotrangespy', 'two-commands',
                           'two-commands-1'}
