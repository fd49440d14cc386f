BaJ0'ðÚLTB·Ë¯È¤`¥g¤û?w4Õ÷¾Tþgs>©i^Çmœˆp‡Utt
É