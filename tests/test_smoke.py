def test_catalog_page_renders(client):
    assert client.get("/shop/").status_code == 200
