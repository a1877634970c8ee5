"""gluon_ssd: SSD and SSDLite detectors on the MXNet Gluon model_zoo backbones."""
from setuptools import find_packages, setup

setup(
    name="gluon_ssd",
    version="0.1.0",
    description="SSD and SSDLite object detectors on MXNet Gluon model_zoo backbones",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["gluon_ssd", "gluon_ssd.*"]),
    python_requires=">=3.8,<3.12",
    install_requires=[
        "mxnet==1.9.1",
        # mxnet 1.9.1 uses np.bool, removed in numpy 1.24: it does not import on newer numpy.
        "numpy<1.24",
        "gluoncv==0.10.5.post0",
        "matplotlib",
        "tqdm",
        # Annotation XML is parsed with DTDs and entities refused (gluon_ssd.data.voc).
        "defusedxml",
        # COCO files are indexed and COCO AP computed by pycocotools (gluon_ssd.data.coco,
        # gluon_ssd.coco_eval); its 2.0.x wheels build against the installed numpy.
        "pycocotools>=2.0.6",
        # scripts/train.py --config FILE.yaml.
        "pyyaml",
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
