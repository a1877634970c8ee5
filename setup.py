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
    # The page of `gluon-ssd serve` (HTML + JS, no CDN) is installed with the package.
    package_data={"gluon_ssd.serve": ["static/*"]},
    include_package_data=True,
    entry_points={"console_scripts": ["gluon-ssd = gluon_ssd.cli.main:main"]},
    python_requires=">=3.8,<3.12",
    install_requires=[
        "mxnet==1.9.1",
        # mxnet 1.9.1 uses np.bool, removed in numpy 1.24: it does not import on newer numpy.
        "numpy<1.24",
        "gluoncv==0.10.5.post0",
        "matplotlib",
        # Images are read and drawn with Pillow (gluon_ssd.data, gluon_ssd.inference).
        "Pillow",
        "tqdm",
        # Annotation XML is parsed with DTDs and entities refused (gluon_ssd.data.voc).
        "defusedxml",
        # COCO files are indexed and COCO AP computed by pycocotools (gluon_ssd.data.coco,
        # gluon_ssd.evaluation.coco); its 2.0.x wheels build against the installed numpy.
        "pycocotools>=2.0.6",
        # scripts/train.py --config FILE.yaml.
        "pyyaml",
    ],
    extras_require={
        # ONNX export (gluon_ssd.deploy.export(..., onnx=True)).
        "onnx": ["onnx==1.17.0"],
        # Runtimes for the exported ONNX graph (gluon_ssd.deploy.load(runtime=...)). Both
        # versions install, import and run with numpy 1.23.5 on Python 3.11 (mxnet 1.9.1 needs
        # numpy < 1.24): onnxruntime 1.32.0 declares numpy>=1.21.6, openvino 2026.4.1
        # numpy>=1.16.6. ONNX Runtime's quantizer (the int8 ONNX graph) needs onnx >= 1.16 and
        # ml_dtypes; ml_dtypes 0.4.1 is the newest that keeps numpy 1.23.5 (later ones pull
        # numpy 2, which mxnet cannot import).
        "runtimes": ["onnx==1.17.0", "onnxruntime==1.32.0", "openvino==2026.4.1",
                     "ml_dtypes==0.4.1"],
        # `gluon-ssd serve` (gluon_ssd.serve): FastAPI on uvicorn, python-multipart for uploads.
        # fastapi 0.165.0, uvicorn 0.55.0 and python-multipart 0.0.34 install beside numpy 1.23.5.
        "serve": ["fastapi>=0.110", "uvicorn>=0.29", "python-multipart>=0.0.9"],
        # nbclient, nbformat and ipykernel execute the notebooks (tests/test_notebooks.py);
        # the runtimes run the ONNX parity tests (tests/deploy/).
        # tests/serve: httpx (FastAPI's TestClient), playwright (drives Debian's chromium, not a
        # downloaded browser), tritonclient (Triton's model_config protobuf schema; its plain
        # install, without the grpc extra, needs no numpy >= 1.24). hypothesis: the fuzz tests
        # (tests/helpers/fuzz.py); 6.170.27 installs beside numpy 1.23.5 (it needs no numpy).
        "test": ["pytest", "pytest-timeout", "hypothesis==6.170.27", "onnx==1.17.0",
                 "onnxruntime==1.32.0", "openvino==2026.4.1", "ml_dtypes==0.4.1",
                 "nbclient==0.11.0", "nbformat==5.11.1", "ipykernel==7.4.0", "fastapi>=0.110",
                 "uvicorn>=0.29", "python-multipart>=0.0.9", "httpx", "playwright==1.65.3",
                 "tritonclient==2.73.0"],
    },
)
