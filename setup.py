"""gluon_ssd: SSD and SSDLite detectors on the MXNet Gluon model_zoo backbones."""
import re

from setuptools import find_packages, setup


def _version():
    """The one version: ``__version__`` in gluon_ssd/__init__.py (read, not imported: no mxnet)."""
    with open("gluon_ssd/__init__.py", encoding="utf-8") as f:
        match = re.search(r'^__version__ = "([^"]+)"$', f.read(), re.M)
    if match is None:
        raise RuntimeError("gluon_ssd/__init__.py has no __version__ = \"...\" line")
    return match.group(1)


setup(
    name="gluon_ssd",
    version=_version(),
    description="SSD and SSDLite object detectors on MXNet Gluon model_zoo backbones",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    license_files=["LICENSE"],
    # scripts/ is installed as gluon_ssd.commands: `gluon-ssd train` runs scripts/train.py's main.
    packages=find_packages(include=["gluon_ssd", "gluon_ssd.*"]) + ["gluon_ssd.commands"],
    package_dir={"gluon_ssd.commands": "scripts"},
    entry_points={"console_scripts": ["gluon-ssd = gluon_ssd.console:main"]},
    python_requires=">=3.8,<3.12",
    install_requires=[
        "mxnet==1.9.1",
        # mxnet 1.9.1 uses np.bool, removed in numpy 1.24: it does not import on newer numpy.
        "numpy<1.24",
        "gluoncv==0.10.5.post0",
        "matplotlib",
        # Images are read and drawn with Pillow (gluon_ssd.data, gluon_ssd.detect).
        "Pillow",
        "tqdm",
        # Annotation XML is parsed with DTDs and entities refused (gluon_ssd.data.voc).
        "defusedxml",
    ],
    extras_require={
        # ONNX export (gluon_ssd.deploy.export(..., onnx=True)). ONNX Runtime, to run the model
        # and the ONNX parity test, cannot be listed: every onnxruntime wheel for Python 3.11
        # declares numpy>=1.24.2, which mxnet 1.9.1 does not import with, although
        # onnxruntime 1.16.3 runs fine on numpy 1.23.5. Install it without its numpy pin:
        #   pip install --no-deps onnxruntime==1.16.3 coloredlogs flatbuffers sympy
        "onnx": ["onnx==1.14.1"],
        # nbclient, nbformat and ipykernel execute the notebooks (tests/test_notebooks.py).
        "test": ["pytest", "pytest-timeout", "onnx==1.14.1", "nbclient==0.11.0",
                 "nbformat==5.11.1", "ipykernel==7.4.0"],
    },
)
