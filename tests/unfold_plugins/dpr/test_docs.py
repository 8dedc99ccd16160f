"""The code on docs/plugins/dpr.md runs as written."""

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[3] / "docs" / "plugins" / "dpr.md"


def test_python_blocks_of_the_docs_page_run(capsys):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert blocks
    for code in blocks:
        exec(compile(code, str(DOC), "exec"), {})
    assert "torch.Size([2, 12]) torch.Size([10])" in capsys.readouterr().out
