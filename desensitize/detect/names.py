"""Chinese person names: a common surname followed by one to three Han characters."""

from __future__ import annotations

import numpy as np
import pandas as pd

from desensitize.detect.base import fullmatch

__all__ = ["COMPOUND_SURNAMES", "SURNAMES", "is_cn_name"]

# The most frequent single-character surnames of mainland China, roughly by frequency.
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖萧田董袁潘于蒋蔡余杜叶"
    "程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫阎段雷侯龙史陶黎"
    "贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧"
    "耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍"
    "华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏"
    "宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝官封谈"
    "匡鞠惠荆乐冀郁胥南班储原栗燕楚鄢劳谌奚皮粟冼蔺楼盘满闻位厉伊仝区郜海阚花权强帅屠豆朴盖"
    "练廉禹井祖漆巴丰支卿国狄平计索宣晋相初门云容敬来扈晁芮都普阙浦戈伏鹿薄邸雍辜羊阿乌母裘"
    "亓修邰赫杭况那宿鲜印逯隆茹诸战慕危玉银亢嵇公哈湛宾戎勾茅利呼居揭干但尉冶斯元束檀衣信展"
    "阴昝智幸奉植衡富尧闭由赖洪"
)
COMPOUND_SURNAMES = (
    "欧阳",
    "司马",
    "上官",
    "诸葛",
    "东方",
    "皇甫",
    "尉迟",
    "公孙",
    "慕容",
    "长孙",
    "宇文",
    "司徒",
    "夏侯",
    "令狐",
    "端木",
    "西门",
    "南宫",
    "独孤",
    "轩辕",
    "钟离",
)
_HAN = r"[\u3400-\u4dbf\u4e00-\u9fff]"
# Place and organisation names also start with surname characters (南山区, 车公庙站).
_NOT_A_NAME_END = "区县市省镇乡村路街号站园院校馆局司店厂楼栋室场桥庙"
_PATTERN = rf"(?!.*[{_NOT_A_NAME_END}]$)(?:{'|'.join(COMPOUND_SURNAMES)}|[{SURNAMES}]){_HAN}{{1,3}}"


def is_cn_name(values: pd.Series) -> np.ndarray:
    return fullmatch(values, _PATTERN)
