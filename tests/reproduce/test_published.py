"""Published reference rows: each paper's numbers under dynint's metric names, with their source."""

from dynint.reproduce.published import published_numbers, s3rec_published


def test_s3rec_rows_come_first_and_tiger_rows_are_found_with_their_source():
    assert published_numbers("amazon-beauty", "sasrec") == s3rec_published("amazon-beauty", "sasrec")
    tiger = published_numbers("amazon-beauty", "tiger")
    assert tiger["NDCG@10"] == 0.0384 and tiger["HR@10"] == 0.0648 and "Rajput" in tiger["source"]
    assert published_numbers("amazon-sports", "tiger")["NDCG@10"] == 0.0225
    assert published_numbers("ml-100k", "tiger") is None and published_numbers("amazon-beauty", "hstu") is None
