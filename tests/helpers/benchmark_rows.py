"""One model's benchmark records as the suite writes them, for the report and plot tests (not a
test module): its ``info`` (FLOPs, parameters, export), one inference row of two variants and one
training row."""
INFO = {"model": "ssd_300_mobilenet0.25_voc", "size": 300, "flops_per_image": 386721248,
        "ours_params": 3254078, "gluoncv_flops_per_image": 386721248, "gluoncv_params": 3254077,
        "export_s": 1.13, "batchnorm_folded": 35, "int8_agreement": None,
        "skipped": {"openvino_bf16": "CPU has no bf16 units (x86_64 avx2)"}}
ROW = {"model": "ssd_300_mobilenet0.25_voc", "batch": 1, "flops": 386721248, "floor_ms": 4.2,
       "variants": {"gluoncv": {"ms": 32.1, "x_gluoncv": 1.0, "gflops": 12.1,
                                "fraction_of_ceiling": 0.131, "x_floor": 7.64},
                    "int8": {"ms": 4.9, "x_gluoncv": None, "gflops": 79.5,
                             "fraction_of_ceiling": 0.863, "x_floor": 1.16}}}
TRAIN = {"model": "ssd_300_mobilenet0.25_voc", "batch": 2, "input": [2, 3, 300, 300],
         "repeats": 3, "gluoncv_images_per_s": 21.21, "ours_images_per_s": 23.57,
         "ratio": 1.111, "pipeline_images_per_s": 171.6, "pipeline_images": 8}
