import shutil

shutil.copy("data/train.csv", "data/prepared.csv")
