# ruff: noqa: E501  (real CSV rows, copied verbatim)
"""A handful of real Olist rows, copied by hand, written into the extract's layout under a temp dir.

The orders, with what the data says happened to them (local time, UTC-03:00):
- f3c19ec2…: bought 2017-12-13, handed over 12-15, promised 2018-01-10, delivered 01-13 02:18: three days late.
- f70a0aff…: the seller's limit was 08-17 02:45, it handed over 08-17 15:35 (late), delivered early (08-18).
- 8e24261a…: `unavailable`, no items.
- a39d3db7…: `canceled`, one item.
- 36530871…: `shipped` 2017-05-11, never delivered; promised 06-08.
- e481f51c…: delivered 2017-10-10, a week early.
Complaints: review 1 (satisfied), 1192 (partial delivery), 3345 (not as advertised).
"""

from __future__ import annotations

from pathlib import Path

ORDERS = """order_id,customer_id,order_status,order_purchase_timestamp,order_approved_at,order_delivered_carrier_date,order_delivered_customer_date,order_estimated_delivery_date
f3c19ec2622d12aafeb4c32621b951b2,ed8281fe17bd28cb00b79f98fba9c537,delivered,2017-12-13 12:58:59,2017-12-13 13:12:06,2017-12-15 18:34:57,2018-01-13 02:18:44,2018-01-10 00:00:00
f70a0aff17df5a6cdd9a7196128bd354,456dc10730fbdba34615447ea195d643,delivered,2017-08-10 11:58:33,2017-08-12 02:45:24,2017-08-17 15:35:07,2017-08-18 14:28:02,2017-08-23 00:00:00
8e24261a7e58791d10cb1bf9da94df5c,64a254d30eed42cd0e6c36dddb88adf0,unavailable,2017-11-16 15:09:28,2017-11-16 15:26:57,,,2017-12-05 00:00:00
a39d3db795a5cf4c8b6c9dd050f0d326,ec66df2cb66dfda07c03050470e21f69,canceled,2017-03-13 16:12:24,2017-03-13 16:12:24,,,2017-03-30 00:00:00
36530871a5e80138db53bcfd8a104d90,4dafe3c841d2d6cc8a8b6d25b35704b9,shipped,2017-05-09 11:48:37,2017-05-11 11:45:14,2017-05-11 13:21:47,,2017-06-08 00:00:00
e481f51cbdc54678b7cc49136f2d6af7,9ef432eb6251297304e76186b10a928d,delivered,2017-10-02 10:56:33,2017-10-02 11:07:15,2017-10-04 19:55:00,2017-10-10 21:25:13,2017-10-18 00:00:00
"""
ITEMS = """order_id,order_item_id,product_id,seller_id,shipping_limit_date,price,freight_value
f3c19ec2622d12aafeb4c32621b951b2,1,821a07e1e2a0382df1f3761ae3cd435c,da8622b14eb17ae2831f4ac5b9dab84a,2017-12-19 13:12:06,119.9,18.09
f70a0aff17df5a6cdd9a7196128bd354,1,cafd558df4c3c9d1c338ba6930ea9a62,5dceca129747e92ff8ef7a997dc4f8ca,2017-08-17 02:45:24,279.0,34.19
a39d3db795a5cf4c8b6c9dd050f0d326,1,baeb8e1a680cf9e1f13557d74b6cec3d,a36ac007a4d18f865c8d32c3b2402c2d,2017-03-17 16:12:24,129.99,16.02
36530871a5e80138db53bcfd8a104d90,1,ba4bfbf74dbe7ab37e263b9326da0523,f8db351d8c4c4c22c6835c19a46f01b0,2017-05-17 11:45:14,36.9,26.89
e481f51cbdc54678b7cc49136f2d6af7,1,87285b34884572647811a353c7ac498a,3504c0cb71d7fa48d967e0e4c94d59d9,2017-10-06 11:07:15,29.99,8.72
"""
CUSTOMERS = """customer_id,customer_unique_id,customer_zip_code_prefix,customer_city,customer_state
ed8281fe17bd28cb00b79f98fba9c537,165fa6c178075605309f0f6a46ee6e04,29107,vila velha,ES
456dc10730fbdba34615447ea195d643,1974875b4a1d2e2ee6d586e3ba4d7602,5634,sao paulo,SP
64a254d30eed42cd0e6c36dddb88adf0,41fc647b8c6bd979b1b6364b60471b50,89288,sao bento do sul,SC
ec66df2cb66dfda07c03050470e21f69,8c36d7644f5966816dcdd2d70b606eba,9050,santo andre,SP
4dafe3c841d2d6cc8a8b6d25b35704b9,10669e874b7ddaab97d6d539578576d7,54762,camaragibe,PE
9ef432eb6251297304e76186b10a928d,7c396fd4830fd04220f754e42b4e5bff,3149,sao paulo,SP
"""
PRODUCTS = """product_id,product_category_name,product_name_lenght,product_description_lenght,product_photos_qty,product_weight_g,product_length_cm,product_height_cm,product_width_cm
821a07e1e2a0382df1f3761ae3cd435c,cama_mesa_banho,56.0,184.0,1.0,1550.0,46.0,3.0,34.0
cafd558df4c3c9d1c338ba6930ea9a62,bebes,45.0,1009.0,1.0,16450.0,44.0,70.0,32.0
baeb8e1a680cf9e1f13557d74b6cec3d,ferramentas_jardim,20.0,2751.0,3.0,2400.0,31.0,28.0,15.0
ba4bfbf74dbe7ab37e263b9326da0523,esporte_lazer,60.0,521.0,1.0,650.0,24.0,10.0,20.0
87285b34884572647811a353c7ac498a,utilidades_domesticas,40.0,268.0,4.0,500.0,19.0,8.0,13.0
"""
CATEGORIES = """product_category_name,product_category_name_english
cama_mesa_banho,bed_bath_table
bebes,baby
ferramentas_jardim,garden_tools
esporte_lazer,sports_leisure
utilidades_domesticas,housewares
informatica_acessorios,computers_accessories
"""
SELLERS = """seller_id,seller_zip_code_prefix,seller_city,seller_state
da8622b14eb17ae2831f4ac5b9dab84a,13405,piracicaba,SP
5dceca129747e92ff8ef7a997dc4f8ca,13450,santa barbara d´oeste,SP
a36ac007a4d18f865c8d32c3b2402c2d,6455,barueri,SP
f8db351d8c4c4c22c6835c19a46f01b0,13324,salto,SP
3504c0cb71d7fa48d967e0e4c94d59d9,9350,maua,SP
"""
COMPLAINTS = """,id,order_status,order_products_value,order_freight_value,order_items_qty,order_sellers_qty,order_purchase_timestamp,order_aproved_at,order_estimated_delivery_date,order_delivered_customer_date,customer_city,customer_state,customer_zip_code_prefix,product_category_name,product_name_lenght,product_description_lenght,product_photos_qty,review_score,review_comment_title,review_comment_message,review_creation_date,review_answer_timestamp,votes_antes_prazo,votes_atrasado,votes_baixa_qualidade,votes_devolucao,votes_diferente_do_anunciado,votes_entrega_parcial,votes_outro_entrega,votes_outro_pedido,votes_satisfeito,most_voted_subclass,most_voted_class
0,1,delivered,89.99,14.38,1,1,2017-08-30 11:41:01.000000,2017-08-30 11:55:08.970352,2017-09-21 00:00:00.000000,2017-09-08 20:35:27.276847,Belo Horizonte,MG,308,beleza_saude,59,492,3,5,,tudo certo,2017-09-09 00:00:00.000000,2017-09-10 03:27:54+00:00,0,0,0,0,0,0,0,0,3,satisfeito,satisfeito_com_pedido
1191,1192,delivered,378.8,26.92,2,1,2017-12-05 19:04:41.000000,2017-12-05 19:30:24.317911,2018-01-10 00:00:00.000000,2017-12-11 18:42:25.047001,Sao Paulo,SP,045,informatica_acessorios,59,695,1,1,,comprei dois toners e só veio um,2017-12-12 00:00:00.000000,2017-12-13 13:34:43+00:00,0,0,0,0,0,3,0,0,0,entrega_parcial,problemas_de_entrega
3344,3345,delivered,129.0,23.77,1,1,2018-01-13 10:06:03.000000,2018-01-16 03:40:15.623179,2018-02-16 00:00:00.000000,2018-02-06 21:22:39.721188,Taio,SC,891,utilidades_domesticas,42,540,3,1,,produto veio com a cor errada,2018-02-07 00:00:00.000000,2018-02-10 15:25:00+00:00,0,0,0,0,3,0,0,0,0,diferente_do_anunciado,problemas_de_qualidade
"""


def write_extract(root: Path, *, extra_orders: str = "") -> Path:
    orders, catalog, complaints = root / "orders-2017-10k", root / "catalog", root / "complaints-labelled"
    for d in (orders, catalog, complaints):
        d.mkdir(parents=True, exist_ok=True)
    (orders / "orders.csv").write_text(ORDERS + extra_orders, encoding="utf-8")
    (orders / "order_items.csv").write_text(ITEMS, encoding="utf-8")
    (orders / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    (orders / "products.csv").write_text(PRODUCTS, encoding="utf-8")
    (orders / "product_category_name_translation.csv").write_text(CATEGORIES, encoding="utf-8")
    (catalog / "olist_sellers_dataset.csv").write_text(SELLERS, encoding="utf-8")
    (complaints / "olist_classified_public_dataset.csv").write_text(COMPLAINTS, encoding="utf-8")
    return root
