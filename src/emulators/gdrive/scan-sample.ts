/**
 * A scanned page for tests and the demo: a 1400×480 one-bit PNG (5.9 kB) of a short memo, drawn
 * with ImageMagick in DejaVu Sans, turned half a degree and thresholded as a scanner leaves it. It
 * reads (SCAN_TEXT):
 *
 *   SCANNED CONFIDENTIAL MEMORANDUM
 *   The environmental survey found asbestos in warehouse B. The seller will give an indemnity
 *   for the remediation costs before closing. Pending litigation with the landlord is disclosed.
 */
export const SCAN_PNG_BASE64 =
  'iVBORw0KGgoAAAANSUhEUgAABXgAAAHgAQAAAAA3CjinAAAWv0lEQVR42u3dQW/cRpYA4GIIhD4YLuemg6DaYP6A5+aD0DWLOeRv' +
  'ZODDXp2bDkIXhR4sczDMPzCA/8Ie97bs4SDcm//AAiHDg48pwoeUMZV6+16R3WK3rMhJyG5ptwqSZbVa0sfqYtVr9atHBg+rsWMD' +
  'gvdeteAN3uAN3uAN3uA9fgve4A3e4A3e4A3e47fgDd7gDd7gDd7gPX4L3uAN3uAN3uAN3uO3B+t16tiUX+etIzAxGGmFXXKnsmPD' +
  '7vIWDGrmvWbJrWTMMIk3pwBXYNSxmTe9VwWkTGppuVkmvZcDWCYsk0Zqy3ilGX4eN/DuzT3wJhZiK7UYvE8iw2IARBsmjBi8iI9r' +
  'KFMW57CCir4NyuN4Ob2RNzFLhAswOBBAq0Qv+dabkFeNvTFcGZasoVYmgSIBEAfyCnD4q5qxt8bPoWogMVxbBVVHjwDKyv9gSY7S' +
  'a2+Bt+IJW0TgOCROpAm0UGqFd5/PSz+85fbPZvll79VAD3YJq613jR9qWUIGOUSDFwcOJy+esPiG3hi9zHulmby3R+OBvGVuX5jl' +
  'H3svTgveW5pk8DY3vBF6cXKBQq20oh4dvPJg3r+Y5bOtF6fhDBpTDV768IPwXvfF2KsKxa2scDpMIHIiN8J79XzeK0ALVJn9xiyf' +
  '91679ZYjbzt4n3nvF+5L702XwonKSvOV9zpOXjGjNxXkzSr7Er2XkpNX4sOOb41pB68hL/de+9x7T7z3O/ntxlsBQy/gneb11jGt' +
  'YnlpL8zy/FKy6NrbmUbj/8l7id689170Xjt4LyVw8pZ4COjN0NuJH+bzmoi8HL0Xy/PzjZfTwO5Mh/Ov8F6WtNngVb33L957Mnh1' +
  'CyfLjTef0Qup97b28mK52PfqsbfyXuxq8p5e/gW/rxIn2PPk7Ro4JW/lvX+f0avxN4Jo7OXz5eK0P9+2XjP2lr0XpwPyXjQ4/1Zn' +
  '5M0roxr0LtBbeu93M3ppbDr0Lk+W8ob35XC+0fhtvVfvep9fkFerpoOzrbea1yvBsch7H2/ms7yfH+zY2/Re571nz733tffi+tZq' +
  'ODvbel/P6LXotYxZ9WgpX+2tF/bZyNt5b4fTF3n/2OD5Vr268N4YJzEQh/Gapdh6/7rndc9G86/23uZjXlyjDYgnG287u1ehKF3K' +
  'f+x4S+OejtY34701814Re29x4eeHGjKjxOut92w+r9SKuwuFjzh6i534rDSw4/0zeQsctSMvjX6O80PKlPj3fj6rZvXGBcaNF8pe' +
  'qmIpa+9tKP79cY19Buw6Pmvtjnd10/tdv15UnV7M52UYbrOXYM97L8UPEa7SKq8xXof0Ov5tbUzeit7Qm3lvg14fPzAmxd8P4cVz' +
  'u2aavPUSn3bS8018dqMZx7etNyav894MYyPyvm17r+vjHY6h3Q/kbSHrzIxei7NZ0oE7V3rj5dvnx1CQ1z9/SwYvDlHvBe/FRwOl' +
  'lTtDtagpPmvIu5Szefdaik9z/NcV3mXrpefHLT4HyiHnUBb4RfIq7020Grya4t8Gp2jrDubdaT/7E234+8NNL0vIi8/ZKngiwXvx' +
  'GbXj+Ggdx7vXKvIidNdb0xO6xzhLCIPP35Rh4r54d9t7ih9odUnQ+9eNFx8JeT+9+y0XVqYJ/eSH4d1pD807eQve4A3e4A3e4A3e' +
  '47fgDd7gDd7gDd7gPX4L3uAN3uAN3uAN3uO34A3e4A3e4A3e4D1+C97g/ZiXdgkd2/LrvOz57leqY9Mm8eb3xAvm5cVv9PKjeK3a' +
  'G783vD7Z6abXJNv/dsf03mh3e/XwUdxnr7753z3vlN0+9tbKxUBb2s7Ex37FLd7u5n8Hr7l5j0m9qaCcVMvgJNFQVu1KCzyGtrTy' +
  'fnqZ0EwBvj+NDVTVD3HBTSFbprlj8DoxbEmZqRDvbq0+nlfyBrtSWxmvyVvHaYx9/gP7OrFMfRsZphl6LVvK1tQ5CC0pUzUVd3mn' +
  'bGOvylt8zPE9aYzKqhp4aQSvL77KzHOZRk5i1+e4spA3zZwoeImTb8oL2YGoYtDfgN/0dzhv6QTgO++syqsGBLrzxvJSO7HSTr63' +
  'MgftyMsqJ1nSIi3lKUfvdxEUXwAUHJg65VAom9SxE7+DdqeXMugFrhNC9F4nOvI60aInM9j3Dr2UJdsaWdoFL/Fr0MDnCX79HwzS' +
  'CCCNLZNPE8BzIaojEwOT0OFZO4+X+pe8OIZ5hQND420tehvI97yqtdjNHd7WOZGhd20UX9MGRXMqWewYr6M6riPHBHoLOY+3wJ+O' +
  '7wIfe3HtlW0LeU7J/rTTceu9lE3vlSV6S6tEgz+HtmMkeN5m5c8GmtqekZdNNi5u8y52vDXj5MXOwvHrvei6VB1t6+ysbL136b0d' +
  'eml7dUU54iVt6MKbJJ/HSzEOvgsNZ5K8ZtdryGu493bGKnpHL23SE5VdyG7jNUaV5M0GL04rB/Hu9a8+Ra+NNl4WoWvPaxneJPA4' +
  'W++183rLrfex3B2/QN6Gxi8w76UtqJHFmHnXWzMr0HuhyjV6c3sufZdPVq7jprf03leKvN2ut/VeTfMvGHTCTW/KbEReFteCvAs+' +
  'p9ef4NdesfE2Yy/CyEtbXuyzfW+mcb3wXp14L5vJa8irQUINEr0peml9673d2Ot67wv0uj/ue7mGWqIX7xaRV6ZyTi+uRviO3gLQ' +
  'i/FD79WD1w5evN2+sDgffwmb+Wzw4rdaQeebn4nRa8SMXlxLMZ7ZetNk8Bop0Ivdjd6f7EKs0OuDA4zvcW0oabMs3tx7Mf7wXu29' +
  'js80fvF0fktbCjHWxV+6Ji/Gv73X4sRrFMaTtF5oxTE+donj773XCYqHKitpvRA1vnNNe9tp8sYxM5N3rzXk1XLwut5rPiMvA+a9' +
  '+KH38sRc+r2FGD/wAvs3oXWPvJVRvr7B/N69tsbxC4WlncUmgvSF96a00RCPzNe8QS/FZ0n6AeP9xop33+N4KPWh+vcXW0N7IDlo' +
  '3nsLYWPyUvybUl0kis+SIjKyrjGqOL73uuUAPwF2YkLeGp9fFM8MPV8F9MYW40nL7pt3r33AMX0qcBKuuYsNPfO7T15x5z2uZlrf' +
  '5vJO3H6fd/r6L/N6a/nAvOpheQ/fgjd4gzd4gzd4g/f4LXiDN3iDN3iDN3iP3/4PeO9nIuLt3sMWgJ/aa/1lBBRMnyoyl5fTa0bs' +
  'ycirRxdAePP2p3vmTX7Ry/2LzuMsvyN71Yru9uu8/eBpZ/RaeHOb138uxuP313v55F7FGxPDE1FAtQIrb3qvb9rx9kkI8OHg3qTV' +
  'DE4Ek98xqDm9NhlDofAL7ad495rc9071gsvWK8mr2BkTdKGFBL06ouSxrfecQwF0wQCj7vbCnjef2usWSYmS2EpeGLUq0dsnj23H' +
  'w7PE85mq6eXsWrYllU598+aTvJO9oDXyVjQojMrWfixThWTEX3vpRVYBhqk0QW/K25i8wp9vRasbqCz3ZW4P5P23CpykcVtaSYkw' +
  'lECmsn7+JW9SWl/FWCUrbZYsqckrey97oTscQDHKE/uSLlVyxmHd4lTz41ze0xfeq9HrFkL3XiqU2+fmCccpaZWy+0SLXpHVChrd' +
  'e7Hv0ZvVEZU9tl9zvM9JDOkLx9TruFY44TxhT6eZjrfrxekLyi7ZeI0fD9p7ee+lZJ7KZyN22lzKsgaggs/ktXKlNeQlTsJv1/SA' +
  'OMFw8FPq56uoEDjhPGEnk3tzn7nDksotKLGvqntvf6kn9Hb0qR68inKm0Cu9V+EQwTmLsmA6y/GBEnGD7+ZcpP+a4oSj+Oo/p4n7' +
  'rr3v83q549UcP0HvZr3oer4l70XvfX82eEs8BUVOycraypJSTDrqdBArLWjC4ZlVk8TVW++jjrKrKWVo4zVx7222Xvo0sSxCL/sD' +
  '3qzb3ovHpC1OFeQ1vZdSPsuO0nBVvsYTFY9lklNu6/2246WjzKiNN4OI8jf3vJahtzOG6kKDaU+lyH0iqrZL78Wvy7ZPkdp6S++V' +
  '+cRen+LUe2l+yEDrXa9Pp08v5dW192+q97baLiRjivInFXnpjC2bwYvzTu4m9l4Z7zUjr9nz+hjMnFPCiPGrgXn3auPtXO8txl6f' +
  '1gp51XvF1N4Sp38qTk7DmKYFn/W277XnlGCIdyPvVxtv2blzD8qM90qfUnvtFTkewqTetZE0/Vv5jrqjwaUZjM96u/b6/QnYj1uv' +
  '/epb2HpPFYH4yEvjYeuFaa59MPbWn0kME3A+k6uVXSRvcWp6R+e+2XiV9wqfW917/7v30ql1ojjdb+z1abgb7xM5qRdPYv05PqSM' +
  '448vEp9A5mgCo2S+3kv895TRi17pvbzwXj91nfhkKaG3XlU2Y+/rab2tVfYMvYXEH685sKyIEY/eZOMlvv4XFa8743g79spVB498' +
  'THPt9Qcx8r5Sk3r3W/nWYIAuNxtnyUt8jOlTnH/Bz2eOr70Xl94OUigdjt/62rvSY+9f5/XuNe9Fvo2gjtGbJuQVTe9l6L3CuVfB' +
  'Kt16JV3hauPN6LnVAb077YMBLUdeYH8mLz7/g+LRxosHYc6281nln0wdybvTfnyHkwsO1TX1PdQnGy8ehE8b7r2FrO+J17fr2OvD' +
  '1luUMPL6zS/30LvX3g5efb+8nxAr3iOv80vbHW2av6ZN42Wf4J3mz+ATeeXdd5rmZYZpxm/6CceU3H2fg3k/odEffx6UVzws70Qt' +
  'eIM3eIM3eIM3eI/fgjd4gzd4g/fI3kMlZE3lTVX/0apjk36/9827YzNvenn/If+Y11+pe5byYL/dK37BK273invrFbd77ehvY/+8' +
  'D174iLe/o//SqATlUBNvtsqZ2/qp0Z3evRtHXj36nkN5maU6E46dv5Sw+pXese5gXsPgKXm/xn/wF14Zbl/KGDRd4frHe+d1Qn+t' +
  'mMDx8CdOKeBdVMf2T6cRFJyKqejYsgsooB0qeN3lna1dn2+NUQmNX56ZSwk6Kq4se8yAJVSshgqnXACTLaO//qtC2khHdJr5rIbx' +
  'Sz8H87aUbkgVlCqNvaZVpq24MsBLfSGqpgZ6hVX8wCilSKZcM41ioFIwKX5ay25Nf0F34mBeygrqvR15ITdWrqjIFbopJYNeweY1' +
  'dr1ZyM8Tyiui/MOnMTCR8lR0V5Q+qeMOf6TmVMLRTZOhcZu38hk2OJ9VLVBVQW4vZUlFEBsnKCWDMgSyxklK8RNZ66wqfwaI1+4J' +
  'b3DU4ACil4+jzjFZxFTC0Xx2GG9JXuxje6kqfO9aGLxGVeSlFEq8T5+wR3l8GZWg1JTOB2XX2RORojcV+lNe5ZrCWzOOKMZ2vD4j' +
  'h2rk4dllqUJe7/WlG6kEJQ0gel22M0uR/5NKODb6GF4WkZeKovkMIieAqM3WS3lbVLINB5AZilvx3JdExBN4Pq/bGQ+w7633vTX+' +
  's6bD7L2+JF5f7Aw7uvdu6hwfyEup6zQewHvtnldznB8E9KUQm61XQNdB5kueURrBnN7SZwze4i33vTaySic7XkpH7L0rXzJqbq/d' +
  'eH0ZVOBjb7XvhdQqF93iLeQBvM3W2429NB9svdW1V+ORNN5LJQf9eAAYvDo5gLfWlACZUa40fI/ezHuXkgoKVpXxGXve6+czoEqu' +
  'uj/fbnhdfACvZvQbi3NVmsf4a6G03svf03rsU1dxfSNvB5RCTSNlKEVL3nbshfUBvFT3tPf6GnY+87iyisXmmajWteQUP5CX1uPS' +
  '9+9Q6pdKULadf4bdz2fQzO4FmjvRq9ELVMMOdO9NYxP5+Te9wPiMvGax5Mk7beX3ui+ljCOGSixTzlFOXkR3vrj0nN699h6f9Hov' +
  'leHDeP0xein+Ra9livGaOR/gRFeOY1TBsw5Wtl+PFe/7d9b14pfbW7tQtX9+gV6M11NRR+iN+3gyoRKUHRSUjth25ly8KWm9aIyc' +
  'fmvwb/n75DuM5g2HK80xXqeC8TgbCxrwQLmgFM7T/JDrP8nJygz+Lu9e0+o91KoD08fr1P2J9352P7277T2soab1LbdPHoJ31A45' +
  'P/x/9NoH5h3vSn0AXj1NBvjhvNHD8tJ8/JC8s7TgDd7gDd7gDd7gPX4L3uAN3uAN3uAN3uO34A3e4A3e4A3e4D1+C97gDd7gDd7j' +
  'et32xd5qjjLkk3ttX+YXW7bx0lWw7921D669/Je8oz536l54F5s9ViOvGbxOjbxWDXtChmN5cxyv3Gxy2uY0XXvtrlfueMVwOz/I' +
  '2Ln2bup9XXu3Owqtej/yLr3X3ObNNltA8zkO4Nq76cKPesff4j7RO9wgtt/4dlqvjd1zAaus7RpKV53eO0X23MirI/cscQy9qTKP' +
  'JY7fOqocF0buZuLcF2/9tS9BnrQdk7SXxnvNZ6JINGshgte03ayxlxfsDu/mht2vT+0tS7NMSrNIWr0QdU1eoyrNRBrrqLVMvYo2' +
  '3m8KBXgsKzDiiN7KLkRr6LoSikot9/NZbUS+xvnMMJmybf9i79cRXXeCdmAUtHESEvQmIMSPh/ImmVuIRuN6oWnD0OBtrIAOvbR5' +
  'j8rNFvZyKfUjAUb9gwFlLGP/26+5jXhlIzgREY3fVAIdgOPzeVmSuwXVqCYvz+zgLV3vpS1jVIu7MDj/6iV6oTAqox0Y2crSpkmO' +
  'Y0c9PaOa57QRlA4Az9NUCsMhpZGzmtYrUragmuU4P0Cej71U4rlBF9Xi7r1A3tIq3lH/4WOQaYs8o6L/OUXv0l94gvdX0BB17Jis' +
  'aeaZ1Asf9VZOGOa9PCfvq97LvdeXa6f+l1VHafc4qGjTqr2U34O+5FX5wT4RoogsbTkcLkwxlVfe6vUl4Fu6jbwv/Xqce++C9qgL' +
  'X4Ifj4c283EDid9KAhoPgLZ94uNSG/VfWXMdUU3kzcF91JuOvO2rb7Zeqivvvdp/ndPY4ZrWC/LSAVClcxC5pn0lnd8ufAivLwG/' +
  '8f5tx8vw2zf9z+m+wu87upQbL40X2oLo9xlN7M1u8fKx9+ymt9h6YfAuOUUfvFoP3gvlpNETz79Q+Utx9N7tfEZ9NjzevffLsRf7' +
  'kS5xccPLem9NkYYQ9kLiWdtN7S3B19xPyLtdL8rB2/Te7uwPN7xD/4+8tF7QDTrpvZc4o7HJvbVDCcYQ5N2ux63FCbTfLua9ix2v' +
  'IK+40b9KC++1Ue9VbDmDVzOU+PgMw4RNvNMYwWsKNp33ahl/3Nv088PgxYWYvLAevDVdJGFqryGvj38h7+NJG1N8tmJOtuZSbr1i' +
  '46UN9zteWkB8/Jv3Xu29hir9T+ylFlMkvvJe81iRl+JfWTxyEcZnirxGJlb1XoXe5Gcav3684PLQ+ut9JL2XDsBf8UPQPuozMYN3' +
  '3M7JC/j84nNZPwfWOuZLm+Ckj6ORvNj3Tqa0QzZLffyG67G/3sfgpQPwV/ygEuzknXY+22/bp2x+U03TwmrwZnj2f0NePBZJFRVE' +
  '+sjHxz4+E/ac1mOML+gAvtd+PfadDNOuF7/s3W2a+pf6Xvod0wWV4Kfw0TC6LBh5h/isXOPsIsrmAy6SP+PMM0Eti9u822I7Vt71' +
  'I4y/pAiF5zEGExSvX9KF1/AACh9PFhE9OYnsyYzednN1gp9+7Sag6i3F6/ifGNc3umScqDGYVxQKZ/N5680zeByTv+vnY5xvhYuo' +
  'BFI0p3ezl0ZP+QftGcevGD7OsgloBu99bcEbvMEbvMEbvMF7/Ba8wRu8wRu8wRu8x2/BG7zBG7zBG7zBe/wWvMEbvMEbvMEbvMdv' +
  'wRu8wRu8wRu8wXv8FrzBG7zBG7zBG7zHb8EbvMEbvMEbvMF7/Ba8wRu8wRu8wRu8x2/BG7zBG7zBG7zBe/wWvMEbvMEbvMEbvMdv' +
  'wRu8wRu8t7X/BVpBCTvamIL6AAAAAElFTkSuQmCC';
