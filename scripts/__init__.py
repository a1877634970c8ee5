"""gluon_ssd's command-line tools, installed as the package ``gluon_ssd.commands``.

Each module is a script (``python scripts/train.py ...``) with a ``main(argv=None)``; setup.py maps
this folder to ``gluon_ssd.commands`` so that ``gluon-ssd train ...`` (gluon_ssd.console) runs the
same ``main`` after ``pip install``.
"""
